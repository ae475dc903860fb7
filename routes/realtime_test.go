package routes_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/app/server/servertest"
	"github.com/todo-app/todo/models"
)

// rtWait bounds every wait for a message in these tests.
const rtWait = 5 * time.Second

// rtEach runs fn once per engine on a fresh database with one instance.
func rtEach(t *testing.T, o servertest.InstanceOptions, fn func(t *testing.T, inst *servertest.Instance)) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, servertest.StartInstance(t, servertest.NewDatabaseURL(t, d), o))
		})
	}
}

// rtUser is a signed-up account with its browser-like client.
type rtUser struct {
	*servertest.Client
	ID     string
	Token  string
	cookie string
	srv    *servertest.Server
}

func rtSignUp(t *testing.T, srv *servertest.Server, email string) *rtUser {
	t.Helper()
	c := srv.Client(t)
	body := c.SignUp("Live User", email, "correct horse battery").JSON()
	u := &rtUser{Client: c, srv: srv, ID: body["user"].(map[string]any)["id"].(string), Token: body["token"].(string)}
	u.cookie = c.Cookie("better-auth.session_token")
	return u
}

// rtLogin opens another session of the same account in a new client.
func rtLogin(t *testing.T, srv *servertest.Server, email string) *rtUser {
	t.Helper()
	c := srv.Client(t)
	r := c.Request("POST", "/api/auth/login", map[string]string{"email": email, "password": "correct horse battery"}, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	body := r.JSON()
	return &rtUser{Client: c, srv: srv, ID: body["user"].(map[string]any)["id"].(string), Token: body["token"].(string),
		cookie: c.Cookie("better-auth.session_token")}
}

// browser is how a page of the server's own origin authenticates: cookie
// and Origin.
func (u *rtUser) browser() http.Header {
	return http.Header{"Cookie": {"better-auth.session_token=" + u.cookie}, "Origin": {u.srv.URL}}
}

// bearer is how an API client authenticates: a token and no Origin.
func (u *rtUser) bearer() http.Header {
	return http.Header{"Authorization": {"Bearer " + u.Token}}
}

// rtMessages is what one connection received, in order.
type rtMessages struct {
	t     *testing.T
	name  string
	msgs  chan realtime.Message
	done  chan struct{}
	code  int // WebSocket close code, set before done closes
	pings atomic.Int32
	last  int64 // id of the last message (reader goroutine only)
}

func newMessages(t *testing.T, name string) *rtMessages {
	return &rtMessages{t: t, name: name, msgs: make(chan realtime.Message, 4096), done: make(chan struct{})}
}

func (m *rtMessages) add(raw []byte) {
	var msg realtime.Message
	if err := json.Unmarshal(raw, &msg); err != nil {
		m.t.Errorf("%s: undecodable message %q: %v", m.name, raw, err)
		return
	}
	if msg.ID != m.last+1 {
		m.t.Errorf("%s: message id %d after %d", m.name, msg.ID, m.last)
	}
	m.last = msg.ID
	m.msgs <- msg
}

// next is the next message. (Ids are checked to count up from 1 without
// gaps as messages arrive.)
func (m *rtMessages) next() realtime.Message {
	m.t.Helper()
	select {
	case msg := <-m.msgs:
		return msg
	case <-time.After(rtWait):
		m.t.Fatalf("%s: no message within %s", m.name, rtWait)
	}
	return realtime.Message{}
}

// expect reads the next message and checks its type.
func (m *rtMessages) expect(typ string) realtime.Message {
	m.t.Helper()
	msg := m.next()
	if msg.Type != typ {
		m.t.Fatalf("%s: got %s %s, want %s", m.name, msg.Type, msg.Data, typ)
	}
	return msg
}

// skipStats returns the next message that is not stats.updated.
func (m *rtMessages) skipStats() realtime.Message {
	m.t.Helper()
	for {
		if msg := m.next(); msg.Type != realtime.TypeStatsUpdated {
			return msg
		}
	}
}

// quiet checks that no message arrives for a while.
func (m *rtMessages) quiet(d time.Duration) {
	m.t.Helper()
	select {
	case msg := <-m.msgs:
		m.t.Fatalf("%s: unexpected %s %s", m.name, msg.Type, msg.Data)
	case <-time.After(d):
	}
}

func (m *rtMessages) closed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// waitClosed waits for the connection to end; code is the WebSocket close
// code expected (0 for an SSE stream).
func (m *rtMessages) waitClosed(code int) {
	m.t.Helper()
	select {
	case <-m.done:
	case <-time.After(rtWait):
		m.t.Fatalf("%s: still open after %s", m.name, rtWait)
	}
	if m.code != code {
		m.t.Fatalf("%s: closed with %d, want %d", m.name, m.code, code)
	}
}

// rtDial opens a WebSocket and reads it in the background.
func rtDial(t *testing.T, srv *servertest.Server, name string, hdr http.Header) *rtMessages {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/api/ws", hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial: %v (status %d)", name, err, status)
	}
	m := newMessages(t, name)
	conn.SetPingHandler(func(data string) error {
		m.pings.Add(1)
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		defer close(m.done)
		for {
			_, raw, err := conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					m.code = ce.Code
				}
				return
			}
			m.add(raw)
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-m.done
	})
	return m
}

// rtDialStatus attempts a WebSocket handshake that must be refused.
func rtDialStatus(t *testing.T, srv *servertest.Server, hdr http.Header) (int, string) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/api/ws", hdr)
	if err == nil {
		_ = conn.Close()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type") + " " + string(body)
}

// rtStream opens GET /api/events and reads it in the background.
func rtStream(t *testing.T, srv *servertest.Server, name string, hdr http.Header) (*rtMessages, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
	req.Header = hdr.Clone()
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		cancel()
		t.Fatalf("%s: %v", name, err)
	}
	m := newMessages(t, name)
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		close(m.done)
		return m, resp
	}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": ping":
				m.pings.Add(1)
			case strings.HasPrefix(line, "data: "):
				m.add([]byte(strings.TrimPrefix(line, "data: ")))
			case line == "":
			default:
				t.Errorf("%s: unexpected line %q", name, line)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-m.done
	})
	return m, resp
}

// rtHello checks the first message of a connection.
func rtHello(t *testing.T, m *rtMessages, userID string) {
	t.Helper()
	msg := m.expect(realtime.TypeHello)
	var hello map[string]any
	if err := json.Unmarshal(msg.Data, &hello); err != nil {
		t.Fatal(err)
	}
	if msg.ID != 1 || hello["user_id"] != userID {
		t.Fatalf("%s: hello %+v", m.name, msg)
	}
	if exp, _ := hello["session_expires_at"].(string); len(exp) != len(models.TimeLayout) {
		t.Errorf("%s: session_expires_at %v", m.name, hello["session_expires_at"])
	}
}

// rtTask writes a task for the user straight to the database.
func rtTask(t *testing.T, srv *servertest.Server, userID, title string) *models.Task {
	t.Helper()
	return rtInsert(t, srv, &models.Task{UserID: userID, Title: title})
}

func rtInsert(t *testing.T, srv *servertest.Server, task *models.Task) *models.Task {
	t.Helper()
	now := models.Now()
	if task.Priority == 0 {
		task.Priority = models.PriorityMedium
	}
	task.Version, task.CreatedAt, task.UpdatedAt = 1, now, now
	if _, err := srv.DB.Write.NewInsert().Model(task).Returning("id").Exec(context.Background()); err != nil {
		t.Fatalf("insert task: %v", err)
	}
	return task
}

// rtUpdate changes a task in the database as an update through the API
// would: the next version, updated now.
func rtUpdate(t *testing.T, srv *servertest.Server, task *models.Task, change func(*models.Task)) *models.Task {
	t.Helper()
	next := *task
	change(&next)
	next.Version++
	next.UpdatedAt = models.Now()
	if _, err := srv.DB.Write.NewUpdate().Model(&next).WherePK().Exec(context.Background()); err != nil {
		t.Fatalf("update task: %v", err)
	}
	return &next
}

func rtDelete(t *testing.T, srv *servertest.Server, task *models.Task) {
	t.Helper()
	if _, err := srv.DB.Write.NewDelete().Model(task).WherePK().Exec(context.Background()); err != nil {
		t.Fatalf("delete task: %v", err)
	}
}

// rtSame checks that a message's data is the JSON the API returns at path.
func rtSame(t *testing.T, u *rtUser, data json.RawMessage, path string) {
	t.Helper()
	r := u.Request("GET", path, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	var got, want any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(r.Body, &want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("event data %s\nAPI %s %s", data, path, r.Body)
	}
}

func TestRealtimeRefusals(t *testing.T) {
	rtEach(t, servertest.InstanceOptions{Mutate: func(c *config.Config) {
		c.Server.TrustedOrigins = []string{"https://app.example.com"}
	}}, func(t *testing.T, inst *servertest.Instance) {
		u := rtSignUp(t, inst.Server, "refusals@example.com")
		problem := func(status int, got int, body string) {
			t.Helper()
			if got != status || !strings.HasPrefix(body, "application/problem+json") {
				t.Errorf("got %d %s, want a %d problem", got, body, status)
			}
		}
		// Not signed in: 401 before any upgrade, with or without Origin.
		status, body := rtDialStatus(t, inst.Server, http.Header{"Origin": {inst.URL}})
		problem(http.StatusUnauthorized, status, body)
		status, body = rtDialStatus(t, inst.Server, http.Header{"Authorization": {"Bearer nonsense"}})
		problem(http.StatusUnauthorized, status, body)
		// A cross-site page with the user's cookie: 403 before any upgrade.
		for _, origin := range []string{"https://evil.example", "null", "http://127.0.0.1:1"} {
			hdr := u.browser()
			hdr.Set("Origin", origin)
			status, body = rtDialStatus(t, inst.Server, hdr)
			problem(http.StatusForbidden, status, body)
		}
		hdr := u.browser()
		hdr.Del("Origin")
		hdr.Set("Sec-Fetch-Site", "cross-site")
		status, body = rtDialStatus(t, inst.Server, hdr)
		problem(http.StatusForbidden, status, body)
		if got := inst.Hub.Stats().Connections; got != 0 {
			t.Fatalf("%d connections registered by refused handshakes", got)
		}
		// The same for the event stream.
		_, resp := rtStream(t, inst.Server, "anonymous stream", http.Header{})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous stream: %d", resp.StatusCode)
		}
		hdr = u.browser()
		hdr.Set("Origin", "https://evil.example")
		_, resp = rtStream(t, inst.Server, "cross-site stream", hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site stream: %d", resp.StatusCode)
		}
		// A plain GET of the socket endpoint.
		r := u.Request("GET", "/api/ws", nil, nil)
		if r.Status != http.StatusUpgradeRequired || r.Header.Get("Upgrade") != "websocket" {
			t.Errorf("plain GET /api/ws: %d %v", r.Status, r.Header)
		}

		// Accepted: the own origin, a trusted origin, and a client without Origin.
		rtHello(t, rtDial(t, inst.Server, "own origin", u.browser()), u.ID)
		hdr = u.browser()
		hdr.Set("Origin", "https://app.example.com")
		rtHello(t, rtDial(t, inst.Server, "trusted origin", hdr), u.ID)
		rtHello(t, rtDial(t, inst.Server, "bearer", u.bearer()), u.ID)
		s, resp := rtStream(t, inst.Server, "stream", u.browser())
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") ||
			resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("X-Accel-Buffering") != "no" ||
			resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("stream headers %v", resp.Header)
		}
		rtHello(t, s, u.ID)
	})
}

// Every tab and device of a user hears every change, over either transport,
// and nobody else does.
func TestRealtimeIsolationAndEventTypes(t *testing.T) {
	rtEach(t, servertest.InstanceOptions{}, func(t *testing.T, inst *servertest.Instance) {
		alice := rtSignUp(t, inst.Server, "alice@example.com")
		bob := rtSignUp(t, inst.Server, "bob@example.com")
		aliceConns := []*rtMessages{
			rtDial(t, inst.Server, "alice ws cookie", alice.browser()),
			rtDial(t, inst.Server, "alice ws bearer", alice.bearer()),
		}
		s, _ := rtStream(t, inst.Server, "alice sse", alice.browser())
		aliceConns = append(aliceConns, s)
		bobConns := []*rtMessages{rtDial(t, inst.Server, "bob ws", bob.browser())}
		s, _ = rtStream(t, inst.Server, "bob sse", bob.bearer())
		bobConns = append(bobConns, s)
		for _, m := range aliceConns {
			rtHello(t, m, alice.ID)
		}
		for _, m := range bobConns {
			rtHello(t, m, bob.ID)
		}

		ctx := context.Background()
		pub := inst.Hub
		check := func(conns []*rtMessages, u *rtUser, typ string, path string, wantID int64) {
			t.Helper()
			for _, m := range conns {
				msg := m.expect(typ)
				if msg.ID != wantID {
					t.Errorf("%s: id %d, want %d", m.name, msg.ID, wantID)
				}
				if at, err := time.Parse(models.TimeLayout, msg.At); err != nil || time.Since(at) > time.Minute {
					t.Errorf("%s: at %q", m.name, msg.At)
				}
				if path != "" {
					rtSame(t, u, msg.Data, path)
				}
				stats := m.expect(realtime.TypeStatsUpdated)
				if stats.ID != wantID+1 {
					t.Errorf("%s: stats id %d, want %d", m.name, stats.ID, wantID+1)
				}
				rtSame(t, u, stats.Data, "/api/dashboard/stats")
			}
		}

		task := rtTask(t, inst.Server, alice.ID, "alice's task")
		pub.TaskChanged(ctx, alice.ID, realtime.TypeTaskCreated, task)
		path := fmt.Sprintf("/api/tasks/%d", task.ID)
		check(aliceConns, alice, realtime.TypeTaskCreated, path, 2)

		bobTask := rtTask(t, inst.Server, bob.ID, "bob's task")
		pub.TaskChanged(ctx, bob.ID, realtime.TypeTaskCreated, bobTask)
		check(bobConns, bob, realtime.TypeTaskCreated, fmt.Sprintf("/api/tasks/%d", bobTask.ID), 2)

		title := "renamed"
		task = rtUpdate(t, inst.Server, task, func(t *models.Task) { t.Title = title })
		pub.TaskChanged(ctx, alice.ID, realtime.TypeTaskUpdated, task)
		check(aliceConns, alice, realtime.TypeTaskUpdated, path, 4)

		task = rtUpdate(t, inst.Server, task, func(t *models.Task) {
			now := models.Now()
			t.Status, t.CompletedAt = true, &now
		})
		pub.TaskChanged(ctx, alice.ID, realtime.TypeTaskCompleted, task)
		check(aliceConns, alice, realtime.TypeTaskCompleted, path, 6)

		rtDelete(t, inst.Server, task)
		pub.TaskDeleted(ctx, alice.ID, task.ID)
		check(aliceConns, alice, realtime.TypeTaskDeleted, "", 8)

		// Bob heard only his own task's two messages.
		for _, m := range append(aliceConns, bobConns...) {
			m.quiet(100 * time.Millisecond)
		}
	})
}

// A user's events arrive in the order they were published, on every
// connection.
func TestRealtimeOrdering(t *testing.T) {
	rtEach(t, servertest.InstanceOptions{}, func(t *testing.T, inst *servertest.Instance) {
		u := rtSignUp(t, inst.Server, "order@example.com")
		ws := rtDial(t, inst.Server, "ws", u.bearer())
		sse, _ := rtStream(t, inst.Server, "sse", u.bearer())
		rtHello(t, ws, u.ID)
		rtHello(t, sse, u.ID)
		ctx := context.Background()
		task := rtTask(t, inst.Server, u.ID, "v1")
		inst.Hub.TaskChanged(ctx, u.ID, realtime.TypeTaskCreated, task)
		const n = 40
		for i := 2; i <= n; i++ {
			task = rtUpdate(t, inst.Server, task, func(t *models.Task) { t.Title = fmt.Sprintf("v%d", i) })
			inst.Hub.TaskChanged(ctx, u.ID, realtime.TypeTaskUpdated, task)
		}
		for _, m := range []*rtMessages{ws, sse} {
			lastID := int64(1)
			for v := 1; v <= n; v++ {
				msg := m.skipStats()
				var got models.Task
				if err := json.Unmarshal(msg.Data, &got); err != nil || got.Version != v || got.Title != fmt.Sprintf("v%d", v) {
					t.Fatalf("%s: message %d is %s, want version %d", m.name, v, msg.Data, v)
				}
				if msg.ID <= lastID {
					t.Fatalf("%s: id %d after %d", m.name, msg.ID, lastID)
				}
				lastID = msg.ID
			}
			// A burst ends with the stats after its last change.
			stats := m.expect(realtime.TypeStatsUpdated)
			rtSame(t, u, stats.Data, "/api/dashboard/stats")
		}
	})
}

// rawSlowClient opens a connection with a small receive buffer and never
// reads from it.
func rawSlowClient(t *testing.T, srv *servertest.Server, request string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// A client that never reads is disconnected once its queue is full (or a
// write to it stalls), its queue never grows past the limit, and the user's
// other connections keep receiving everything.
func TestRealtimeSlowConsumer(t *testing.T) {
	const queue = 16
	rtEach(t, servertest.InstanceOptions{Realtime: func(o *realtime.Options) {
		o.QueueSize = queue
		o.WriteTimeout = 500 * time.Millisecond
	}}, func(t *testing.T, inst *servertest.Instance) {
		u := rtSignUp(t, inst.Server, "slow@example.com")
		host := strings.TrimPrefix(inst.URL, "http://")
		rawSlowClient(t, inst.Server, "GET /api/ws HTTP/1.1\r\nHost: "+host+"\r\nAuthorization: Bearer "+u.Token+
			"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		rawSlowClient(t, inst.Server, "GET /api/events HTTP/1.1\r\nHost: "+host+"\r\nAuthorization: Bearer "+u.Token+"\r\n\r\n")
		good := rtDial(t, inst.Server, "reading ws", u.bearer())
		goodSSE, _ := rtStream(t, inst.Server, "reading sse", u.bearer())
		rtHello(t, good, u.ID)
		rtHello(t, goodSSE, u.ID)
		deadline := time.Now().Add(10 * time.Second)
		for inst.Hub.Connections(u.ID) != 4 {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections, want 4", inst.Hub.Connections(u.ID))
			}
			time.Sleep(10 * time.Millisecond)
		}

		// 6 KB per message (it must fit in one NOTIFY on PostgreSQL).
		payload := strings.Repeat("x", 6000)
		ctx := context.Background()
		sent := 0
		for inst.Hub.Connections(u.ID) > 2 {
			if sent >= 5000 {
				t.Fatalf("slow clients still connected after %d messages: %+v", sent, inst.Hub.Stats())
			}
			for range 8 {
				if err := inst.Hub.Publish(ctx, u.ID, "test.load", map[string]any{"n": sent, "pad": payload}); err != nil {
					t.Fatal(err)
				}
				sent++
				if st := inst.Hub.Stats(); st.MaxQueued > queue {
					t.Fatalf("a send queue holds %d messages, over its limit of %d", st.MaxQueued, queue)
				}
			}
			for i := sent - 8; i < sent; i++ {
				for _, m := range []*rtMessages{good, goodSSE} {
					var got struct{ N int }
					msg := m.expect("test.load")
					if err := json.Unmarshal(msg.Data, &got); err != nil || got.N != i {
						t.Fatalf("%s: got %s, want n=%d", m.name, msg.Data[:min(len(msg.Data), 40)], i)
					}
				}
			}
		}
		t.Logf("slow clients disconnected after %d messages of 6 KB; %+v", sent, inst.Hub.Stats())
		if good.closed() || goodSSE.closed() {
			t.Fatal("a reading client was disconnected")
		}
		if err := inst.Hub.Publish(ctx, u.ID, "test.after", 1); err != nil {
			t.Fatal(err)
		}
		good.expect("test.after")
		goodSSE.expect("test.after")
	})
}

// Signing out closes the connections opened with that session, and only
// those; a refresh closes the old session's.
func TestRealtimeSessionEndClosesConnections(t *testing.T) {
	rtEach(t, servertest.InstanceOptions{}, func(t *testing.T, inst *servertest.Instance) {
		first := rtSignUp(t, inst.Server, "sessions@example.com")
		second := rtLogin(t, inst.Server, "sessions@example.com")
		third := rtLogin(t, inst.Server, "sessions@example.com")
		fourth := rtLogin(t, inst.Server, "sessions@example.com")
		firstWS := rtDial(t, inst.Server, "first ws", first.browser())
		firstSSE, _ := rtStream(t, inst.Server, "first sse", first.browser())
		secondWS := rtDial(t, inst.Server, "second ws", second.bearer())
		thirdWS := rtDial(t, inst.Server, "third ws", third.browser())
		fourthWS := rtDial(t, inst.Server, "fourth ws", fourth.browser())
		for _, m := range []*rtMessages{firstWS, firstSSE, secondWS, thirdWS, fourthWS} {
			rtHello(t, m, first.ID)
		}

		if r := first.Request("POST", "/api/auth/logout", nil, nil); r.Status != http.StatusOK {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		firstWS.waitClosed(realtime.ClosePolicyViolation)
		firstSSE.waitClosed(0)

		// Rotation ends the old session's connections too.
		r := second.Request("POST", "/api/auth/refresh", nil, map[string]string{"Authorization": "Bearer " + second.Token})
		if r.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		secondWS.waitClosed(realtime.ClosePolicyViolation)

		// Better Auth's sign-out as well.
		if r := third.Request("POST", "/api/auth/sign-out", nil, nil); r.Status != http.StatusOK {
			t.Fatalf("sign-out: %d %s", r.Status, r.Body)
		}
		thirdWS.waitClosed(realtime.ClosePolicyViolation)

		// The session still signed in keeps its connection and its events.
		if fourthWS.closed() {
			t.Fatal("another session's connection was closed")
		}
		if err := inst.Hub.Publish(context.Background(), first.ID, "test.still", 1); err != nil {
			t.Fatal(err)
		}
		fourthWS.expect("test.still")

		// A connection with the ended session's cookie is refused.
		if status, _ := rtDialStatus(t, inst.Server, first.browser()); status != http.StatusUnauthorized {
			t.Errorf("dial with a signed-out cookie: %d", status)
		}
	})
}

// Heartbeats flow on both transports, a peer that stops answering pings is
// dropped, and the server's write timeout does not cut long-lived
// connections.
func TestRealtimeHeartbeatsAndWriteTimeout(t *testing.T) {
	rtEach(t, servertest.InstanceOptions{
		Mutate: func(c *config.Config) { c.Server.WriteTimeout = 300 * time.Millisecond },
		Realtime: func(o *realtime.Options) {
			o.Heartbeat = 100 * time.Millisecond
			o.PongTimeout = 300 * time.Millisecond
		},
	}, func(t *testing.T, inst *servertest.Instance) {
		u := rtSignUp(t, inst.Server, "beat@example.com")
		ws := rtDial(t, inst.Server, "ws", u.browser())
		sse, _ := rtStream(t, inst.Server, "sse", u.browser())
		rtHello(t, ws, u.ID)
		rtHello(t, sse, u.ID)
		host := strings.TrimPrefix(inst.URL, "http://")
		// Never reads, so never answers a ping.
		rawSlowClient(t, inst.Server, "GET /api/ws HTTP/1.1\r\nHost: "+host+"\r\nAuthorization: Bearer "+u.Token+
			"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")

		time.Sleep(1200 * time.Millisecond) // four write timeouts
		if ws.closed() || sse.closed() {
			t.Fatal("a connection was cut")
		}
		if n := ws.pings.Load(); n < 5 {
			t.Errorf("%d WebSocket pings in 1.2s at 100ms", n)
		}
		if n := sse.pings.Load(); n < 5 {
			t.Errorf("%d SSE ping lines in 1.2s at 100ms", n)
		}
		if n := inst.Hub.Connections(u.ID); n != 2 {
			t.Errorf("%d connections: the silent peer was not dropped", n)
		}
		if err := inst.Hub.Publish(context.Background(), u.ID, "test.late", 1); err != nil {
			t.Fatal(err)
		}
		ws.expect("test.late")
		sse.expect("test.late")
	})
}

// Shutting down closes sockets with 1001 and ends streams.
func TestRealtimeShutdown(t *testing.T) {
	rtEach(t, servertest.InstanceOptions{}, func(t *testing.T, inst *servertest.Instance) {
		u := rtSignUp(t, inst.Server, "bye@example.com")
		ws := rtDial(t, inst.Server, "ws", u.bearer())
		sse, _ := rtStream(t, inst.Server, "sse", u.bearer())
		rtHello(t, ws, u.ID)
		rtHello(t, sse, u.ID)
		start := time.Now()
		inst.Stop()
		ws.waitClosed(realtime.CloseGoingAway)
		sse.waitClosed(0)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("shutdown took %s", d)
		}
	})
}

// Two instances on one PostgreSQL: a change published on one reaches the
// user's sockets on the other, tasks too large for a notification included,
// and a sign-out on one closes the session's sockets on the other.
func TestRealtimeAcrossInstances(t *testing.T) {
	url := servertest.NewDatabaseURL(t, database.Postgres)
	a := servertest.StartInstance(t, url, servertest.InstanceOptions{})
	b := servertest.StartInstance(t, url, servertest.InstanceOptions{})
	alice := rtSignUp(t, a.Server, "alice@example.com")
	bob := rtSignUp(t, a.Server, "bob@example.com")
	aliceLater := rtLogin(t, b.Server, "alice@example.com")

	aliceOnB := rtDial(t, b.Server, "alice on b", alice.bearer())
	aliceSSEOnB, _ := rtStream(t, b.Server, "alice sse on b", alice.bearer())
	aliceOnA := rtDial(t, a.Server, "alice on a", aliceLater.bearer())
	bobOnB := rtDial(t, b.Server, "bob on b", bob.bearer())
	for _, m := range []*rtMessages{aliceOnB, aliceSSEOnB, aliceOnA} {
		rtHello(t, m, alice.ID)
	}
	rtHello(t, bobOnB, bob.ID)

	ctx := context.Background()
	task := rtTask(t, a.Server, alice.ID, "small")
	a.Hub.TaskChanged(ctx, alice.ID, realtime.TypeTaskCreated, task)
	for _, m := range []*rtMessages{aliceOnB, aliceSSEOnB, aliceOnA} {
		rtSame(t, alice, m.expect(realtime.TypeTaskCreated).Data, fmt.Sprintf("/api/tasks/%d", task.ID))
		rtSame(t, alice, m.expect(realtime.TypeStatsUpdated).Data, "/api/dashboard/stats")
	}

	// Escaped as \u003c in JSON, this task is over 8000 bytes: it travels as
	// a reference and each instance loads it.
	big := &models.Task{UserID: alice.ID, Priority: models.PriorityHigh,
		Title:       strings.Repeat("<", models.MaxTitleLength),
		Description: new(strings.Repeat("<", models.MaxDescriptionLength)),
		Category:    new(strings.Repeat("<", models.MaxCategoryLength))}
	rtInsert(t, a.Server, big)
	if raw, _ := json.Marshal(big); len(raw) < 8000 {
		t.Fatalf("the big task is only %d bytes", len(raw))
	}
	b.Hub.TaskChanged(ctx, alice.ID, realtime.TypeTaskCreated, big)
	for _, m := range []*rtMessages{aliceOnB, aliceSSEOnB, aliceOnA} {
		rtSame(t, alice, m.expect(realtime.TypeTaskCreated).Data, fmt.Sprintf("/api/tasks/%d", big.ID))
		m.expect(realtime.TypeStatsUpdated)
	}
	b.Hub.TaskDeleted(ctx, alice.ID, task.ID)
	for _, m := range []*rtMessages{aliceOnB, aliceSSEOnB, aliceOnA} {
		if msg := m.expect(realtime.TypeTaskDeleted); string(msg.Data) != fmt.Sprintf(`{"id":%d}`, task.ID) {
			t.Errorf("%s: deleted data %s", m.name, msg.Data)
		}
		m.expect(realtime.TypeStatsUpdated)
	}
	bobOnB.quiet(100 * time.Millisecond)

	// Sign out on A; the session's sockets on B close.
	if r := alice.Request("POST", "/api/auth/logout", nil, map[string]string{"Authorization": "Bearer " + alice.Token}); r.Status != http.StatusOK {
		t.Fatalf("logout: %d", r.Status)
	}
	aliceOnB.waitClosed(realtime.ClosePolicyViolation)
	aliceSSEOnB.waitClosed(0)
	if aliceOnA.closed() {
		t.Fatal("the other session's socket closed")
	}

	// B's listener loses its connection (as in a database restart): once it
	// listens again, B's sockets are told to reload (1012), and events flow.
	res, err := a.DB.Write.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("terminated %d listeners, want 2", n)
	}
	bobOnB.waitClosed(realtime.CloseServiceRestart)
	aliceOnA.waitClosed(realtime.CloseServiceRestart)
	again := rtDial(t, b.Server, "bob again", bob.bearer())
	rtHello(t, again, bob.ID)
	deadline := time.Now().Add(rtWait)
	for {
		// The reconnected listener may need a moment; publish until heard.
		_ = a.Hub.Publish(ctx, bob.ID, "test.again", 1)
		select {
		case msg := <-again.msgs:
			if msg.Type != "test.again" {
				t.Fatalf("got %+v", msg)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no event after the listener reconnected")
		}
	}
}

// Driven through the task endpoints: every change made through the API
// reaches the user's connections, with the task as the API returns it.
func TestRealtimeTaskEndpoints(t *testing.T) {
	rtEach(t, servertest.InstanceOptions{}, func(t *testing.T, inst *servertest.Instance) {
		u := rtSignUp(t, inst.Server, "http@example.com")
		other := rtSignUp(t, inst.Server, "other@example.com")
		ws := rtDial(t, inst.Server, "ws", u.browser())
		sse, _ := rtStream(t, inst.Server, "sse", u.bearer())
		otherWS := rtDial(t, inst.Server, "other ws", other.browser())
		rtHello(t, ws, u.ID)
		rtHello(t, sse, u.ID)
		rtHello(t, otherWS, other.ID)

		r := u.Request("POST", "/api/tasks", map[string]any{"title": "from http"}, nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		id := int64(r.JSON()["id"].(float64))
		path := fmt.Sprintf("/api/tasks/%d", id)
		steps := []struct {
			method, path string
			body         any
			typ          string
		}{
			{"PATCH", path, map[string]any{"title": "renamed"}, realtime.TypeTaskUpdated},
			{"PATCH", path + "/complete", nil, realtime.TypeTaskCompleted},
			// A repeated completion changes nothing and publishes nothing:
			// the next message is the deletion's.
			{"PATCH", path + "/complete", nil, ""},
			{"DELETE", path, nil, realtime.TypeTaskDeleted},
		}
		for _, m := range []*rtMessages{ws, sse} {
			rtSame(t, u, m.expect(realtime.TypeTaskCreated).Data, path)
			m.expect(realtime.TypeStatsUpdated)
		}
		for _, s := range steps {
			r := u.Request(s.method, s.path, s.body, nil)
			if r.Status >= 300 {
				t.Fatalf("%s %s: %d %s", s.method, s.path, r.Status, r.Body)
			}
			if s.typ == "" {
				continue
			}
			for _, m := range []*rtMessages{ws, sse} {
				msg := m.expect(s.typ)
				if s.typ == realtime.TypeTaskDeleted {
					if string(msg.Data) != fmt.Sprintf(`{"id":%d}`, id) {
						t.Errorf("deleted data %s", msg.Data)
					}
				} else {
					rtSame(t, u, msg.Data, path)
				}
				rtSame(t, u, m.expect(realtime.TypeStatsUpdated).Data, "/api/dashboard/stats")
			}
		}
		otherWS.quiet(100 * time.Millisecond)
	})
}
