package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/app/server/servertest"
)

const (
	// outageQueryTimeout is database.query_timeout for the outage tests:
	// short, so a request that waits on the database longer shows up.
	outageQueryTimeout = 2 * time.Second
	// outageBound is the longest a request may take while the database is
	// away. Its deadline is query_timeout, but pgdriver reads a result's
	// rows with its own socket timeout (query_timeout too) instead of the
	// deadline, so a request cut off while reading rows takes up to twice
	// that; the rest is the handler's own work and scheduling on a busy
	// machine under -race.
	outageBound = 2*outageQueryTimeout + time.Second
	// outagePublishWait is how much longer a write that committed may then
	// wait for its live update's NOTIFY (realtime's publishTimeout).
	outagePublishWait = 5 * time.Second
	// outageRecovery bounds how long after PostgreSQL is back live updates
	// must flow again: the listener's reconnect backoff tops out at 10 s.
	outageRecovery = 25 * time.Second
	// outageWorkers is how many listing and as many creating clients each
	// user runs: together more than the pool's connections, so requests
	// also queue for a connection while the database is away.
	outageWorkers = 3
)

// leakWords are fragments of driver, SQL and network errors that must never
// reach a client.
var leakWords = []string{
	"pgdriver", "pg:", "sqlstate", "sql:", "bun:", "select ", "insert ", "dial tcp",
	"connection refused", "reset by peer", "broken pipe", "eof", "i/o timeout",
	"127.0.0.1", "postgres", "deadline exceeded",
}

// TestPostgresOutageUnderLoad stops PostgreSQL (a proxy in between closes
// and refuses every connection) for 10 s while clients keep listing and
// creating tasks and each user holds a WebSocket: requests must fail fast
// with a clean 503, /health must say so, and once PostgreSQL is back
// everything must heal in the same process: /health, writes, sockets and the
// LISTEN bridge behind them.
func TestPostgresOutageUnderLoad(t *testing.T) {
	runOutage(t, "stopped", 10*time.Second, (*servertest.TCPProxy).Down)
}

// TestPostgresPartitionUnderLoad is the same with a network partition
// instead: connections stay open and new ones are accepted, but nothing
// comes back, so only timeouts end a wait, and with more clients than pool
// connections requests also queue for a connection. None may wait past the
// bound database.query_timeout sets (see outageBound).
func TestPostgresPartitionUnderLoad(t *testing.T) {
	runOutage(t, "partitioned", 6*time.Second, (*servertest.TCPProxy).Stall)
}

func runOutage(t *testing.T, what string, length time.Duration, cut func(*servertest.TCPProxy)) {
	if testing.Short() {
		t.Skip("takes about half a minute")
	}
	t.Parallel()
	dbURL, proxy := servertest.ProxyDatabaseURL(t, dbtest.NewURL(t, database.Postgres))
	logs := &lockedBuffer{}
	inst := servertest.StartInstance(t, dbURL, servertest.InstanceOptions{
		Mutate: func(cfg *config.Config) { cfg.Database.QueryTimeout = outageQueryTimeout },
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	wsURL := "ws" + strings.TrimPrefix(inst.URL, "http") + "/api/ws"

	type user struct {
		token  string
		socket *liveSocket
	}
	users := make([]*user, 2)
	for i := range users {
		body := inst.Client(t).SignUp("Outage", fmt.Sprintf("outage%d@example.com", i), "correct horse battery").JSON()
		u := &user{token: body["token"].(string)}
		s, status := dialLive(wsURL, u.token)
		if s == nil {
			t.Fatalf("user %d: WebSocket refused with %d before the outage", i, status)
		}
		t.Cleanup(s.close)
		u.socket = s
		users[i] = u
	}

	calls := &callLog{client: &http.Client{Timeout: 30 * time.Second}, base: inst.URL}
	stop := make(chan struct{})
	var load sync.WaitGroup
	loop := func(fn func(n int)) {
		load.Add(1)
		go func() {
			defer load.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(40 * time.Millisecond):
				}
				fn(n)
			}
		}()
	}
	for i, u := range users {
		for w := range outageWorkers {
			loop(func(int) { calls.do("list", "GET", "/api/tasks", u.token, nil) })
			loop(func(n int) {
				calls.do("create", "POST", "/api/tasks", u.token, map[string]any{"title": fmt.Sprintf("load %d-%d-%d", i, w, n)})
			})
		}
	}
	loop(func(int) { calls.do("health", "GET", "/health", "", nil) })
	stopLoad := sync.OnceFunc(func() { close(stop); load.Wait() })
	defer stopLoad()

	time.Sleep(1500 * time.Millisecond)
	cutAt := time.Now()
	cut(proxy)
	t.Logf("PostgreSQL %s for %s", what, length)

	// A socket can be opened during the outage only if the session need not
	// be read from the database; otherwise the handshake is refused cleanly.
	time.Sleep(length / 2)
	if s, status := dialLive(wsURL, users[0].token); s != nil {
		s.close()
	} else if status != http.StatusServiceUnavailable {
		t.Errorf("WebSocket handshake during the outage: %d, want 101 or 503", status)
	}
	time.Sleep(time.Until(cutAt.Add(length)))

	restoreAt := time.Now()
	for i, u := range users {
		if at, code := u.socket.closedAt(); !at.IsZero() {
			t.Errorf("user %d: WebSocket closed (%d) %s into the outage; sockets need no database", i, code, at.Sub(cutAt).Round(time.Millisecond))
		}
	}
	proxy.Up(t)

	healthyAt := waitHealthy(t, inst.URL, restoreAt.Add(outageRecovery))
	t.Logf("/health 200 again %s after PostgreSQL came back", healthyAt.Sub(restoreAt).Round(time.Millisecond))

	// Live updates: the listener reconnects with backoff and then closes
	// every socket (1012), since notifications sent meanwhile were lost. A
	// client reconnects and must then hear of a task created after that.
	// (A notification may arrive in the moment between LISTEN and the
	// hub's reconnect handling, hence the log line is awaited as well.)
	for i, u := range users {
		delivered, reconnects := false, 0
		for n := 0; !delivered && time.Now().Before(restoreAt.Add(outageRecovery)); n++ {
			if at, code := u.socket.closedAt(); !at.IsZero() {
				if code != realtime.CloseServiceRestart {
					t.Fatalf("user %d: socket closed with %d after the outage, want %d", i, code, realtime.CloseServiceRestart)
				}
				s, status := dialLive(wsURL, u.token)
				if s == nil {
					t.Fatalf("user %d: reconnect after the outage refused with %d", i, status)
				}
				t.Cleanup(s.close)
				u.socket, reconnects = s, reconnects+1
			}
			c := calls.do("probe", "POST", "/api/tasks", u.token, map[string]any{"title": fmt.Sprintf("after outage %d-%d", i, n)})
			if c.status != http.StatusCreated {
				time.Sleep(250 * time.Millisecond)
				continue
			}
			var task servertest.TaskJSON
			if err := json.Unmarshal(c.body, &task); err != nil {
				t.Fatalf("create after the outage: %v: %s", err, c.body)
			}
			delivered = u.socket.waitFor(func(m realtime.Message) bool {
				var d servertest.TaskJSON
				return m.Type == realtime.TypeTaskCreated && json.Unmarshal(m.Data, &d) == nil && d.ID == task.ID
			}, time.Second) && strings.Contains(logs.String(), "event bus reconnected")
		}
		if !delivered {
			t.Fatalf("user %d: no live update through a reconnected listener within %s of PostgreSQL coming back; server warnings:\n%s",
				i, outageRecovery, warnings(logs))
		}
		t.Logf("user %d: live updates flow again %s after PostgreSQL came back (%d reconnects)", i,
			time.Since(restoreAt).Round(time.Millisecond), reconnects)
	}
	time.Sleep(time.Second)
	stopLoad()

	checkOutageCalls(t, calls.all(), cutAt, restoreAt, healthyAt, logs)
	if s := logs.String(); strings.Contains(s, "panic") {
		t.Errorf("server log has a panic:\n%s", s)
	}
}

// checkOutageCalls holds every request made during the test to the rules
// for its phase: before the cut, during the outage, after /health is back.
func checkOutageCalls(t *testing.T, calls []call, cutAt, restoreAt, healthyAt time.Time, logs *lockedBuffer) {
	t.Helper()
	type phase struct {
		name              string
		n, ok, failed     int
		slowest, slowFail time.Duration
	}
	phases := []*phase{{name: "before"}, {name: "outage"}, {name: "recovery"}, {name: "after"}}
	reported := 0
	fail := func(c call, format string, args ...any) {
		if reported++; reported <= 10 {
			t.Errorf("%s %s at %+.3fs (took %s): %s", c.op, c.path, c.start.Sub(cutAt).Seconds(), c.took.Round(time.Millisecond), fmt.Sprintf(format, args...))
		}
	}
	for _, c := range calls {
		end := c.start.Add(c.took)
		var p *phase
		switch {
		case c.start.Before(cutAt):
			p = phases[0]
		case c.start.Before(restoreAt):
			p = phases[1]
		case c.start.Before(healthyAt):
			p = phases[2]
		default:
			p = phases[3]
		}
		p.n++
		p.slowest = max(p.slowest, c.took)
		if c.err != nil {
			fail(c, "no response: %v", c.err)
			continue
		}
		limit := outageBound
		if c.status == http.StatusCreated {
			limit += outagePublishWait
		}
		if c.took > limit {
			fail(c, "took longer than %s; server: %s", limit, logLines(logs, c.requestID))
		}
		if c.status < 300 {
			p.ok++
			// Nothing can succeed while the database is away, so a success
			// inside the outage means the cut did not cut.
			if p.name == "outage" && end.Before(restoreAt) {
				fail(c, "answered %d while PostgreSQL was unreachable", c.status)
			}
			continue
		}
		p.failed++
		p.slowFail = max(p.slowFail, c.took)
		switch {
		case c.status != http.StatusServiceUnavailable:
			fail(c, "status %d, want 503: %s; server: %s", c.status, c.body, logLines(logs, c.requestID))
			continue
		case p.name == "before" && end.Before(cutAt):
			fail(c, "failed before PostgreSQL was cut: %s", c.body)
		case p.name == "after":
			fail(c, "failed after /health was back: %s", c.body)
		}
		if c.op == "health" {
			var h map[string]any
			if json.Unmarshal(c.body, &h) != nil || h["database"] != "unreachable" {
				fail(c, "health body %s", c.body)
			}
			continue
		}
		checkUnavailableProblem(c, fail)
	}
	for _, p := range phases {
		t.Logf("%-8s %4d requests: %4d ok, %4d 503; slowest %s, slowest 503 %s", p.name, p.n, p.ok, p.failed,
			p.slowest.Round(time.Millisecond), p.slowFail.Round(time.Millisecond))
	}
	if out := phases[1]; out.failed == 0 || phases[0].ok == 0 || phases[3].ok == 0 {
		t.Errorf("the load did not cover every phase: %+v %+v %+v", *phases[0], *out, *phases[3])
	}
	var health []call
	for _, c := range calls {
		if c.op == "health" && !c.start.Before(cutAt) && c.start.Add(c.took).Before(restoreAt) {
			health = append(health, c)
		}
	}
	if len(health) == 0 || slices.ContainsFunc(health, func(c call) bool { return c.status != http.StatusServiceUnavailable }) {
		t.Errorf("/health during the outage was not always 503 (%d probes)", len(health))
	}
}

// checkUnavailableProblem checks a 503 is the database problem a client can
// act on, with nothing of the driver's error in it.
func checkUnavailableProblem(c call, fail func(call, string, ...any)) {
	if c.contentType != "application/problem+json" {
		fail(c, "Content-Type %q", c.contentType)
	}
	if c.retryAfter == "" {
		fail(c, "503 without Retry-After")
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal(c.body, &p); err != nil || p.Status != http.StatusServiceUnavailable || p.Detail == "" {
		fail(c, "not a 503 problem: %s", c.body)
	}
	lower := strings.ToLower(string(c.body))
	for _, w := range leakWords {
		if strings.Contains(lower, w) {
			fail(c, "body leaks %q: %s", w, c.body)
		}
	}
}

// logLines are the server's log lines about the request with id.
func logLines(logs *lockedBuffer, id string) string {
	var out []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if id != "" && strings.Contains(line, "request_id="+id) {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return "(no log line)"
	}
	return strings.Join(out, "\n")
}

// warnings are the server's log lines other than those about requests.
func warnings(logs *lockedBuffer) string {
	var out []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if !strings.Contains(line, "request_id=") && !strings.Contains(line, "level=INFO") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// waitHealthy polls /health until it answers 200 and returns when it did.
func waitHealthy(t *testing.T, base string, deadline time.Time) time.Time {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := client.Get(base + "/health")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health not 200 by %s (last: %v)", deadline.Format(time.TimeOnly), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// call is one request the test made and what came of it.
type call struct {
	op, path    string
	start       time.Time
	took        time.Duration
	status      int
	contentType string
	retryAfter  string
	requestID   string
	body        []byte
	err         error
}

type callLog struct {
	client *http.Client
	base   string
	mu     sync.Mutex
	calls  []call
}

func (l *callLog) do(op, method, path, token string, body any) call {
	c := call{op: op, path: path, start: time.Now()}
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, l.base+path, r)
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := l.client.Do(req)
	if err == nil {
		c.body, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		c.status, c.contentType, c.retryAfter = resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After")
		c.requestID = resp.Header.Get("X-Request-ID")
	}
	c.took, c.err = time.Since(c.start), err
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
	return c
}

func (l *callLog) all() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// liveSocket is a WebSocket client that records every message and how the
// connection ended.
type liveSocket struct {
	conn *websocket.Conn
	done chan struct{}

	mu     sync.Mutex
	msgs   []realtime.Message
	code   int
	closed time.Time
}

// dialLive opens /api/ws with a Bearer token and waits for the hello; on
// refusal it returns nil and the handshake's status.
func dialLive(wsURL, token string) (*liveSocket, int) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(wsURL, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
			return nil, resp.StatusCode
		}
		return nil, 0
	}
	s := &liveSocket{conn: conn, done: make(chan struct{})}
	go s.read()
	if !s.waitFor(func(m realtime.Message) bool { return m.Type == realtime.TypeHello }, 5*time.Second) {
		s.close()
		return nil, http.StatusSwitchingProtocols
	}
	return s, http.StatusSwitchingProtocols
}

func (s *liveSocket) read() {
	defer close(s.done)
	for {
		_, raw, err := s.conn.ReadMessage()
		if err != nil {
			s.mu.Lock()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				s.code = ce.Code
			}
			s.closed = time.Now()
			s.mu.Unlock()
			return
		}
		var m realtime.Message
		if json.Unmarshal(raw, &m) == nil {
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
		}
	}
}

// waitFor reports whether a message matching ok arrived within d.
func (s *liveSocket) waitFor(ok func(realtime.Message) bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for seen := 0; ; {
		s.mu.Lock()
		msgs := s.msgs[seen:]
		seen = len(s.msgs)
		s.mu.Unlock()
		if slices.ContainsFunc(msgs, ok) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-s.done:
			deadline = time.Now() // one last look at what arrived before the close
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// closedAt is when the connection ended (zero while open) and its close code.
func (s *liveSocket) closedAt() (time.Time, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed, s.code
}

func (s *liveSocket) close() {
	_ = s.conn.Close()
	<-s.done
}

// lockedBuffer collects the server's log lines from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
