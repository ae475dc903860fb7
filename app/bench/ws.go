package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// WSOptions configure a WebSocket run.
type WSOptions struct {
	URL             string
	Users           int           // accounts; the sockets are spread over them
	Conns           int           // sockets held
	Idle            bool          // only open the sockets and measure memory
	Rate            float64       // task changes per second
	Duration        time.Duration // how long changes are made
	DeliveryTimeout time.Duration // a message later than this counts as missed
	DialConcurrency int           // sockets being opened at once; also sign-up workers
	Timeout         time.Duration // per HTTP request and per WebSocket handshake
	PID             int
	Progress        *Progress
}

// WSReport is the outcome of a WebSocket run.
type WSReport struct {
	Target        string            `json:"target"`
	Users         int               `json:"users"`
	Conns         int               `json:"conns"`
	Opened        int               `json:"opened"`
	OpenFailures  map[string]uint64 `json:"open_failures,omitempty"`
	OpenSeconds   float64           `json:"open_seconds"` // until every hello arrived
	FileLimit     uint64            `json:"file_limit,omitempty"`
	ClientPerConn uint64            `json:"client_bytes_per_conn"` // Go heap and stacks of this process
	Server        *ServerMem        `json:"server_memory,omitempty"`
	ServerPerConn int64             `json:"server_rss_bytes_per_conn,omitempty"`
	MemoryNote    string            `json:"server_memory_note,omitempty"`
	Idle          bool              `json:"idle,omitempty"`
	Interrupted   bool              `json:"interrupted,omitempty"`

	// The changes (absent when idle).
	Rate         float64           `json:"rate,omitempty"` // asked for
	Duration     float64           `json:"duration_seconds,omitempty"`
	Changes      uint64            `json:"changes,omitempty"` // POSTs answered 201
	ChangeErrors map[string]uint64 `json:"change_errors,omitempty"`
	Skipped      uint64            `json:"changes_skipped,omitempty"` // not sent: too many still in flight
	Post         *OpResult         `json:"post,omitempty"`            // the POSTs' own latency
	Expected     uint64            `json:"deliveries_expected,omitempty"`
	Delivered    uint64            `json:"delivered,omitempty"`
	Missed       uint64            `json:"missed,omitempty"`
	// Delay from sending the POST to the task.created message on a socket,
	// one value per socket and change.
	Delivery *Latency `json:"delivery,omitempty"`
	// Delay until the last socket of the user had it, one value per change
	// that reached all of them.
	AllSockets *Latency `json:"all_sockets,omitempty"`
	// Sockets the server closed during the run, by close code.
	Closed map[string]uint64 `json:"closed_by_server,omitempty"`
}

// Latency summarises a distribution of delays.
type Latency struct {
	Count uint64  `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func latency(h *Histogram) *Latency {
	return &Latency{Count: h.Count(), P50Ms: ms(h.Percentile(50)), P99Ms: ms(h.Percentile(99)), MaxMs: ms(h.Max())}
}

func (o *WSOptions) check() error {
	switch {
	case o.Users < 1:
		return errors.New("--users must be at least 1")
	case o.Conns < 1:
		return errors.New("--conns must be at least 1")
	case !o.Idle && o.Rate <= 0:
		return errors.New("--rate must be positive")
	case !o.Idle && o.Duration <= 0:
		return errors.New("--duration must be positive")
	}
	if o.DialConcurrency < 1 {
		o.DialConcurrency = 1
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return nil
}

// wsConn is one held socket.
type wsConn struct {
	c    *websocket.Conn
	user int
}

// change is a task creation waiting for its deliveries.
type change struct {
	sent    time.Time
	expect  int
	got     int
	slowest time.Duration
}

// tracker matches task.created messages to the changes that caused them.
type tracker struct {
	timeout    time.Duration
	mu         sync.Mutex
	waiting    map[string]*change // by the task's unique title
	delivery   Histogram
	all        Histogram
	expected   atomic.Uint64
	delivered  atomic.Uint64
	missed     atomic.Uint64
	closedMu   sync.Mutex
	closed     map[string]uint64
	stopping   atomic.Bool
	readerDone sync.WaitGroup
}

func (t *tracker) add(title string, expect int) *change {
	c := &change{sent: time.Now(), expect: expect}
	t.mu.Lock()
	t.waiting[title] = c
	t.mu.Unlock()
	t.expected.Add(uint64(expect))
	return c
}

// cancel forgets a change whose request failed.
func (t *tracker) cancel(title string) {
	t.mu.Lock()
	if c, ok := t.waiting[title]; ok {
		delete(t.waiting, title)
		t.expected.Add(^uint64(c.expect - 1))
	}
	t.mu.Unlock()
}

func (t *tracker) arrive(title string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.waiting[title]
	if !ok {
		return // late (already counted as missed) or not ours
	}
	d := at.Sub(c.sent)
	if d > t.timeout {
		return // the sweep counts it as missed
	}
	t.delivery.Record(d)
	t.delivered.Add(1)
	c.got++
	if d > c.slowest {
		c.slowest = d
	}
	if c.got >= c.expect {
		t.all.Record(c.slowest)
		delete(t.waiting, title)
	}
}

// sweep counts the deliveries of changes older than the timeout (all of
// them when force) as missed, and reports how many changes still wait.
func (t *tracker) sweep(force bool) int {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for title, c := range t.waiting {
		if force || now.Sub(c.sent) > t.timeout {
			t.missed.Add(uint64(c.expect - c.got))
			delete(t.waiting, title)
		}
	}
	return len(t.waiting)
}

var createdPrefix = []byte(`"type":"task.created"`)

// read consumes one socket's messages until it closes.
func (t *tracker) read(c *websocket.Conn) {
	defer t.readerDone.Done()
	var msg struct {
		Data struct {
			Title string `json:"title"`
		} `json:"data"`
	}
	for {
		_, raw, err := c.ReadMessage()
		if err != nil {
			if !t.stopping.Load() {
				code := "no close frame"
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					code = strconv.Itoa(ce.Code)
				}
				t.closedMu.Lock()
				t.closed[code]++
				t.closedMu.Unlock()
			}
			return
		}
		at := time.Now()
		head := raw
		if len(head) > 32 {
			head = head[:32]
		}
		if !bytes.Contains(head, createdPrefix) {
			continue
		}
		msg.Data.Title = ""
		if json.Unmarshal(raw, &msg) == nil && msg.Data.Title != "" {
			t.arrive(msg.Data.Title, at)
		}
	}
}

// heapInUse is this process's Go heap and stacks after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// RunWS opens the sockets, waits for every hello, measures memory and then
// (unless idle) creates tasks at the rate asked and times their delivery.
func RunWS(ctx context.Context, o WSOptions) (*WSReport, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	limit, _ := RaiseFileLimit()
	t, err := newTarget(o.URL, o.DialConcurrency+512, o.Timeout)
	if err != nil {
		return nil, err
	}
	rep := &WSReport{Target: t.base, Users: o.Users, Conns: o.Conns, Idle: o.Idle, FileLimit: limit}
	if limit > 0 && uint64(o.Conns)+64 > limit {
		return nil, fmt.Errorf("--conns %d does not fit under this process's open-file limit of %d (raise the hard limit: ulimit -Hn, or LimitNOFILE= in a systemd unit)", o.Conns, limit)
	}
	if o.PID > 0 {
		if _, err := ReadMemory(o.PID); err != nil {
			return nil, err
		}
	}
	users, err := signUp(ctx, t, o.Users, o.DialConcurrency, o.Progress)
	if err != nil {
		o.Progress.Done()
		return nil, err
	}

	var before Memory
	if o.PID > 0 {
		if before, err = ReadMemory(o.PID); err != nil {
			return nil, err
		}
	}
	clientBefore := heapInUse()

	tr := &tracker{timeout: o.DeliveryTimeout, waiting: map[string]*change{}, closed: map[string]uint64{}}
	dialer := &websocket.Dialer{HandshakeTimeout: o.Timeout, ReadBufferSize: 4096, WriteBufferSize: 1024}
	conns := make([]*wsConn, o.Conns)
	var failMu sync.Mutex
	failures := map[string]uint64{}
	var opened atomic.Int64
	openStart := time.Now()
	_ = parallel(ctx, o.Conns, o.DialConcurrency, func(i int) error {
		u := i % len(users)
		h := http.Header{"Authorization": {string(users[u].auth)}, "Origin": {t.origin}}
		c, resp, err := dialer.DialContext(ctx, t.wsBase+"/api/ws", h)
		if err == nil {
			err = awaitHello(c, o.Timeout)
			if err != nil {
				_ = c.Close()
			}
		}
		if err != nil {
			kind := transportKind(err)
			if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
				kind = "HTTP " + strconv.Itoa(resp.StatusCode)
			}
			failMu.Lock()
			failures[kind]++
			failMu.Unlock()
			if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
				return ErrRateLimited
			}
			return nil
		}
		conns[i] = &wsConn{c: c, user: u}
		tr.readerDone.Add(1)
		go tr.read(c)
		n := opened.Add(1)
		if n%50 == 0 || int(n) == o.Conns {
			o.Progress.Update(fmt.Sprintf("opening sockets %d/%d", n, o.Conns))
		}
		return nil
	})
	rep.OpenSeconds = time.Since(openStart).Seconds()
	rep.Opened = int(opened.Load())
	rep.OpenFailures = copyMap(failures)
	defer closeAll(conns, tr)
	if failures["HTTP 429"] > 0 {
		o.Progress.Done()
		return nil, ErrRateLimited
	}
	if rep.Opened == 0 {
		o.Progress.Done()
		return nil, fmt.Errorf("no socket could be opened: %v", failures)
	}

	if rep.Opened > 0 {
		rep.ClientPerConn = uint64(max(0, int64(heapInUse())-int64(clientBefore))) / uint64(rep.Opened)
	}
	rep.Server, rep.MemoryNote = serverMemory(o.PID, before, t.loopback)
	if rep.Server != nil && rep.Opened > 0 {
		rep.ServerPerConn = (int64(rep.Server.After.RSS) - int64(rep.Server.Before.RSS)) / int64(rep.Opened)
	}
	if o.Idle || ctx.Err() != nil {
		o.Progress.Done()
		rep.Interrupted = ctx.Err() != nil
		return rep, nil
	}

	// Sockets per user, for the number of deliveries each change expects.
	perUser := make([]int, len(users))
	var active []int
	for _, c := range conns {
		if c != nil {
			if perUser[c.user] == 0 {
				active = append(active, c.user)
			}
			perUser[c.user]++
		}
	}
	rep.Rate, rep.Duration = o.Rate, o.Duration.Seconds()
	post := &opStats{}
	var skipped, changes atomic.Uint64
	id := runID()
	inflight := make(chan struct{}, 512)
	var senders sync.WaitGroup
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		every(250*time.Millisecond, stop, func() { tr.sweep(false) })
	}()
	bg.Add(1)
	go func() {
		defer bg.Done()
		every(time.Second, stop, func() {
			o.Progress.Update(fmt.Sprintf("ws: %d sockets, %d changes, %d delivered, %d missed, %d send errors",
				rep.Opened, changes.Load(), tr.delivered.Load(), tr.missed.Load(), post.errs.Load()))
		})
	}()

	interval := time.Duration(float64(time.Second) / o.Rate)
	start := time.Now()
	for i := 0; ; i++ {
		next := start.Add(time.Duration(i) * interval)
		if next.Sub(start) >= o.Duration {
			break
		}
		if wait := time.Until(next); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-runCtx.Done():
				timer.Stop()
			case <-timer.C:
			}
		}
		if runCtx.Err() != nil {
			break
		}
		select {
		case inflight <- struct{}{}:
		default:
			skipped.Add(1)
			continue
		}
		u := active[i%len(active)]
		title := "ws bench " + id + " " + strconv.Itoa(i)
		senders.Add(1)
		go func() {
			defer senders.Done()
			defer func() { <-inflight }()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			body, _ := json.Marshal(map[string]string{"title": title})
			tr.add(title, perUser[u])
			t0 := time.Now()
			err := t.call(req, resp, "POST", "/api/tasks", users[u].auth, body)
			if err != nil {
				tr.cancel(title)
				post.fail("", transportKind(err))
				return
			}
			post.hist.Record(time.Since(t0))
			if resp.StatusCode() != fasthttp.StatusCreated {
				tr.cancel(title)
				post.fail(strconv.Itoa(resp.StatusCode()), "")
				return
			}
			changes.Add(1)
		}()
	}
	sentFor := time.Since(start)
	senders.Wait()
	// Let the last changes arrive or time out.
	deadline := time.Now().Add(o.DeliveryTimeout + time.Second)
	for tr.sweep(false) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	tr.sweep(true)
	close(stop)
	bg.Wait()
	o.Progress.Done()

	rep.Interrupted = ctx.Err() != nil
	rep.Changes = changes.Load()
	rep.Skipped = skipped.Load()
	post.mu.Lock()
	rep.ChangeErrors = addMap(copyMap(post.status), post.transport)
	post.mu.Unlock()
	pr := OpResult{Op: "post", Requests: post.hist.Count() + countAll(post.transport, &post.mu), Errors: post.errs.Load()}
	if sentFor > 0 {
		pr.RPS = float64(pr.Requests) / sentFor.Seconds()
	}
	pr.fill(&post.hist)
	rep.Post = &pr
	rep.Expected = tr.expected.Load()
	rep.Delivered = tr.delivered.Load()
	rep.Missed = tr.missed.Load()
	rep.Delivery = latency(&tr.delivery)
	rep.AllSockets = latency(&tr.all)
	tr.closedMu.Lock()
	rep.Closed = copyMap(tr.closed)
	tr.closedMu.Unlock()
	return rep, nil
}

// awaitHello reads the first message, which must be the hello.
func awaitHello(c *websocket.Conn, timeout time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	_, raw, err := c.ReadMessage()
	if err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Time{})
	var m struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Type != "hello" {
		return fmt.Errorf("first message is not the hello")
	}
	return nil
}

// closeAll says goodbye on every socket and waits for the readers.
func closeAll(conns []*wsConn, tr *tracker) {
	tr.stopping.Store(true)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	deadline := time.Now().Add(time.Second)
	for _, c := range conns {
		if c != nil {
			_ = c.c.WriteControl(websocket.CloseMessage, msg, deadline)
			_ = c.c.Close()
		}
	}
	tr.readerDone.Wait()
}
