package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/todo-app/todo/models"
)

// testConn is a registered connection read directly from its queue, as a
// transport would.
type testConn struct {
	t *testing.T
	c *client
}

func connect(t *testing.T, h *Hub, user, session string) *testConn {
	t.Helper()
	c, err := h.register(Subscriber{UserID: user, SessionID: session, SessionExpiresAt: time.Now().Add(time.Hour)}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testConn{t: t, c: c}
	t.Cleanup(func() { tc.leave() })
	if m := tc.next(); m.Type != TypeHello {
		t.Fatalf("first message %+v, want hello", m)
	}
	return tc
}

var leftMu sync.Mutex

func (tc *testConn) leave() {
	leftMu.Lock()
	defer leftMu.Unlock()
	if tc.c.hub == nil {
		return
	}
	tc.c.hub.unregister(tc.c)
	tc.c.hub = nil
}

// next is the connection's next message, framed as the transport frames it.
func (tc *testConn) next() Message {
	tc.t.Helper()
	select {
	case m := <-tc.c.queue:
		var out Message
		raw := tc.c.frame(nil, m)
		if err := json.Unmarshal(raw, &out); err != nil {
			tc.t.Fatalf("frame %s: %v", raw, err)
		}
		return out
	case <-time.After(5 * time.Second):
		tc.t.Fatal("no message within 5s")
		return Message{}
	}
}

// none checks that nothing arrives for a short while.
func (tc *testConn) none() {
	tc.t.Helper()
	select {
	case m := <-tc.c.queue:
		tc.t.Fatalf("unexpected message %s", tc.c.frame(nil, m))
	case <-time.After(100 * time.Millisecond):
	}
}

func (tc *testConn) closed() (int, bool) {
	select {
	case <-tc.c.done:
		code, _ := tc.c.closeCode()
		return code, true
	default:
		return 0, false
	}
}

func (tc *testConn) waitClosed(want int) {
	tc.t.Helper()
	select {
	case <-tc.c.done:
		if code, reason := tc.c.closeCode(); code != want {
			tc.t.Fatalf("closed with %d (%s), want %d", code, reason, want)
		}
	case <-time.After(5 * time.Second):
		tc.t.Fatalf("not closed within 5s, want %d", want)
	}
}

func task(id int64, user string, version int, status bool) *models.Task {
	now := models.Now()
	return &models.Task{ID: id, Title: fmt.Sprintf("task %d", id), Priority: 2, Version: version, Status: status,
		CreatedAt: now, UpdatedAt: now, UserID: user}
}

type statsCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (s *statsCounter) load(_ context.Context, user string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[user]++
	return map[string]any{"user": user, "n": s.calls[user]}, nil
}

func (s *statsCounter) count(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[user]
}

func TestHubIsolationAndStats(t *testing.T) {
	var stats statsCounter
	h := New(Options{Stats: stats.load})
	a1, a2 := connect(t, h, "alice", "sa1"), connect(t, h, "alice", "sa2")
	b1 := connect(t, h, "bob", "sb1")

	h.TaskChanged(context.Background(), "alice", TypeTaskCreated, task(1, "alice", 1, false))
	for _, c := range []*testConn{a1, a2} {
		m := c.next()
		if m.Type != TypeTaskCreated || m.ID != 2 {
			t.Fatalf("got %+v", m)
		}
		var got models.Task
		if err := json.Unmarshal(m.Data, &got); err != nil || got.ID != 1 || got.UserID != "alice" {
			t.Fatalf("data %s: %v", m.Data, err)
		}
		if _, err := time.Parse(models.TimeLayout, m.At); err != nil {
			t.Fatalf("at %q: %v", m.At, err)
		}
		s := c.next()
		if s.Type != TypeStatsUpdated || s.ID != 3 || !strings.Contains(string(s.Data), `"alice"`) {
			t.Fatalf("got %+v", s)
		}
	}
	b1.none()
	// Stats are loaded once per event, not once per connection.
	if n := stats.count("alice"); n != 1 {
		t.Errorf("stats loaded %d times, want 1", n)
	}
	// Nobody connected: no stats query at all.
	h.TaskChanged(context.Background(), "carol", TypeTaskCreated, task(2, "carol", 1, false))
	h.TaskDeleted(context.Background(), "bob", 3)
	if m := b1.next(); m.Type != TypeTaskDeleted || string(m.Data) != `{"id":3}` {
		t.Fatalf("got %+v", m)
	}
	b1.next() // stats
	if n := stats.count("carol"); n != 0 {
		t.Errorf("stats loaded %d times for a user without connections", n)
	}
	a1.none()
}

func TestHubOrderingAndDuplicates(t *testing.T) {
	h := New(Options{})
	c := connect(t, h, "u", "s")
	ctx := context.Background()
	h.TaskChanged(ctx, "u", TypeTaskCreated, task(1, "u", 1, false))
	h.TaskChanged(ctx, "u", TypeTaskUpdated, task(1, "u", 2, false))
	h.TaskChanged(ctx, "u", TypeTaskUpdated, task(1, "u", 2, false)) // duplicate
	h.TaskChanged(ctx, "u", TypeTaskUpdated, task(1, "u", 1, false)) // stale
	h.TaskChanged(ctx, "u", TypeTaskCompleted, task(1, "u", 3, true))
	h.TaskDeleted(ctx, "u", 1)
	h.TaskChanged(ctx, "u", TypeTaskUpdated, task(1, "u", 4, true)) // after deletion
	want := []string{TypeTaskCreated, TypeTaskUpdated, TypeTaskCompleted, TypeTaskDeleted}
	for i, typ := range want {
		m := c.next()
		if m.Type != typ || m.ID != int64(i+2) {
			t.Fatalf("message %d: %+v, want %s", i, m, typ)
		}
	}
	c.none()
}

func TestHubSlowConsumer(t *testing.T) {
	h := New(Options{QueueSize: 8})
	slow := connect(t, h, "u", "s1")
	fast := connect(t, h, "u", "s2")
	for i := range 100 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = h.Publish(context.Background(), "u", "test", i)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Publish blocked on a client")
		}
		if m := fast.next(); string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("fast client got %s, want %d", m.Data, i)
		}
		if st := h.Stats(); st.MaxQueued > 8 {
			t.Fatalf("a queue holds %d messages, more than its 8", st.MaxQueued)
		}
	}
	slow.waitClosed(CloseTryAgainLater)
	if n := len(slow.c.queue); n != 8 {
		t.Errorf("slow queue holds %d", n)
	}
	if got := h.Stats().SlowDisconnects; got != 1 {
		t.Errorf("SlowDisconnects = %d", got)
	}
	if _, closed := fast.closed(); closed {
		t.Error("fast client was closed")
	}
}

func TestHubCloseSession(t *testing.T) {
	h := New(Options{})
	a := connect(t, h, "u", "s1")
	b := connect(t, h, "u", "s1")
	other := connect(t, h, "u", "s2")
	h.CloseSession("s1")
	a.waitClosed(ClosePolicyViolation)
	b.waitClosed(ClosePolicyViolation)
	if _, closed := other.closed(); closed {
		t.Fatal("another session's connection was closed")
	}
	_ = h.Publish(context.Background(), "u", "test", 1)
	other.next()
}

func TestHubSessionExpiry(t *testing.T) {
	h := New(Options{})
	c, err := h.register(Subscriber{UserID: "u", SessionID: "s", SessionExpiresAt: time.Now().Add(50 * time.Millisecond)}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer h.unregister(c)
	tc := &testConn{t: t, c: c}
	var hello Hello
	if err := json.Unmarshal(tc.next().Data, &hello); err != nil || hello.UserID != "u" || hello.SessionExpiresAt == nil || hello.HeartbeatSeconds != 30 {
		t.Fatalf("hello %+v: %v", hello, err)
	}
	tc.waitClosed(ClosePolicyViolation)
}

func TestHubShutdown(t *testing.T) {
	h := New(Options{})
	c := connect(t, h, "u", "s")
	go func() {
		<-c.c.done
		c.leave()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.Shutdown(ctx)
	if ctx.Err() != nil {
		t.Fatal("Shutdown did not return after the connection left")
	}
	c.waitClosed(CloseGoingAway)
	if _, err := h.register(Subscriber{UserID: "u"}, func() {}); err != ErrClosed {
		t.Fatalf("register after shutdown: %v", err)
	}
}

func TestHubShutdownAbortsStragglers(t *testing.T) {
	h := New(Options{})
	var aborted atomic.Bool
	c, err := h.register(Subscriber{UserID: "u"}, func() { aborted.Store(true) })
	if err != nil {
		t.Fatal(err)
	}
	defer h.unregister(c)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	h.Shutdown(ctx)
	if !aborted.Load() {
		t.Fatal("a connection that did not close in time was not dropped")
	}
}

func TestHubRoomBacklog(t *testing.T) {
	release := make(chan struct{})
	h := New(Options{RoomBacklog: 4, Stats: func(context.Context, string) (any, error) {
		<-release
		return 1, nil
	}})
	c := connect(t, h, "u", "s")
	h.TaskChanged(context.Background(), "u", TypeTaskCreated, task(1, "u", 1, false))
	c.next() // task.created; the worker now waits in Stats
	for i := range 10 {
		h.TaskChanged(context.Background(), "u", TypeTaskUpdated, task(1, "u", i+2, false))
	}
	close(release)
	c.waitClosed(CloseTryAgainLater)
}

// memBus is an in-memory Bus shared by several hubs, as PostgreSQL is by
// several instances: every payload reaches every hub, in publish order.
type memBus struct {
	mu    sync.Mutex
	subs  []chan []byte
	limit int
	sent  [][]byte
}

func (b *memBus) MaxPayload() int { return b.limit }

func (b *memBus) Publish(_ context.Context, p []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, p)
	for _, s := range b.subs {
		s <- p
	}
	return nil
}

func (b *memBus) Run(ctx context.Context, deliver func([]byte), ready func()) {
	ch := make(chan []byte, 1024)
	b.mu.Lock()
	b.subs = append(b.subs, ch)
	b.mu.Unlock()
	ready()
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-ch:
			deliver(p)
		}
	}
}

func TestHubBusAcrossInstancesAndReferences(t *testing.T) {
	bus := &memBus{limit: 400}
	tasks := map[int64]*models.Task{}
	var loads atomic.Int32
	load := func(_ context.Context, user string, id int64) (*models.Task, error) {
		loads.Add(1)
		if t, ok := tasks[id]; ok && t.UserID == user {
			return t, nil
		}
		return nil, models.ErrNotFound
	}
	h1 := New(Options{Bus: bus, Task: load})
	h2 := New(Options{Bus: bus, Task: load})
	h1.Start(context.Background())
	h2.Start(context.Background())
	t.Cleanup(func() { h1.Shutdown(context.Background()); h2.Shutdown(context.Background()) })
	on1, on2 := connect(t, h1, "u", "s1"), connect(t, h2, "u", "s2")

	small := task(1, "u", 1, false)
	big := task(2, "u", 1, false)
	big.Title = strings.Repeat("<", 200)
	tasks[2] = big
	h1.TaskChanged(context.Background(), "u", TypeTaskCreated, small)
	h2.TaskChanged(context.Background(), "u", TypeTaskCreated, big)
	for _, c := range []*testConn{on1, on2} {
		for _, id := range []int64{1, 2} {
			m := c.next()
			var got models.Task
			if err := json.Unmarshal(m.Data, &got); err != nil || got.ID != id || got.Title == "" {
				t.Fatalf("got %+v", m)
			}
		}
	}
	if len(bus.sent[1]) > bus.limit || strings.Contains(string(bus.sent[1]), `"d"`) {
		t.Errorf("large event sent as %s", bus.sent[1])
	}
	if n := loads.Load(); n != 2 {
		t.Errorf("task loaded %d times, want once per instance", n)
	}

	// Closing a session reaches the other instance.
	h1.CloseSession("s2")
	on2.waitClosed(ClosePolicyViolation)
}

func TestHubBusReconnectClosesConnections(t *testing.T) {
	readyc := make(chan func(), 1)
	bus := &funcBus{run: func(ctx context.Context, _ func([]byte), ready func()) {
		ready()
		readyc <- ready
		<-ctx.Done()
	}}
	h := New(Options{Bus: bus})
	h.Start(context.Background())
	t.Cleanup(func() { h.Shutdown(context.Background()) })
	c := connect(t, h, "u", "s")
	(<-readyc)() // the bus reconnected
	c.waitClosed(CloseServiceRestart)
}

type funcBus struct {
	run func(ctx context.Context, deliver func([]byte), ready func())
}

func (b *funcBus) Publish(context.Context, []byte) error { return nil }
func (b *funcBus) MaxPayload() int                       { return 0 }
func (b *funcBus) Run(ctx context.Context, deliver func([]byte), ready func()) {
	b.run(ctx, deliver, ready)
}
