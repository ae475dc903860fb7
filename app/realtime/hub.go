package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/todo-app/todo/models"
)

const (
	// publishTimeout bounds a NOTIFY, detached from the request that caused
	// it: the change has committed, so a client hanging up must not cancel it.
	publishTimeout = 5 * time.Second
	// loadTimeout bounds the stats and task loads behind one event.
	loadTimeout = 5 * time.Second
	// busReadyTimeout is how long Start waits for the bus to listen.
	busReadyTimeout = 10 * time.Second
	// deletedVersion marks a deleted task in a room's version memory, so a
	// late update of it is dropped.
	deletedVersion = math.MaxInt
	// maxSeenTasks bounds a room's version memory.
	maxSeenTasks = 10000
)

// ErrClosed is returned for connections that arrive while the hub shuts down.
var ErrClosed = errors.New("realtime: hub is shut down")

// Hub fans events out to the connections of each user. Its methods are safe
// for concurrent use.
type Hub struct {
	opts Options

	mu       sync.Mutex
	rooms    map[string]*room
	sessions map[string]map[*client]struct{}
	closing  bool
	conns    sync.WaitGroup

	started   atomic.Bool
	busCancel context.CancelFunc
	busDone   chan struct{}
	busReady  chan struct{}
	readyOnce sync.Once
	listening atomic.Bool

	slow atomic.Int64
}

// room is one user's connections on this instance and the events waiting to
// be delivered to them, processed in order by at most one goroutine.
type room struct {
	user    string
	clients map[*client]struct{}
	inbox   []*event
	running bool
	// seen is the last version delivered per task id (worker-owned): an
	// event for a version already delivered, or older, is dropped, so
	// duplicates and out-of-order updates never reach clients.
	seen map[int64]int
}

// event is a change to deliver to one user's connections. data is nil when
// it came from the bus as a reference and the task must be loaded.
type event struct {
	user    string
	typ     string
	taskID  int64
	version int
	data    json.RawMessage
	at      time.Time
}

// New builds a hub; call Start before serving when it has a Bus.
func New(o Options) *Hub {
	return &Hub{
		opts:     o.withDefaults(),
		rooms:    make(map[string]*room),
		sessions: make(map[string]map[*client]struct{}),
		busReady: make(chan struct{}),
	}
}

// Start begins receiving from the bus (nothing to do without one) and waits
// until it listens, at most a few seconds: events published before that are
// not seen by this instance. If the bus is not ready in time Start logs it
// and returns; the bus keeps retrying in the background.
func (h *Hub) Start(ctx context.Context) {
	if h.opts.Bus == nil || !h.started.CompareAndSwap(false, true) {
		return
	}
	busCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.busCancel = cancel
	h.busDone = make(chan struct{})
	go func() {
		defer close(h.busDone)
		h.opts.Bus.Run(busCtx, h.receive, h.busListening)
	}()
	t := time.NewTimer(busReadyTimeout)
	defer t.Stop()
	select {
	case <-h.busReady:
	case <-t.C:
		h.opts.Logger.Warn("realtime: event bus is not listening yet; live updates from other instances start when it is")
	case <-ctx.Done():
	}
}

// busListening is called by the bus whenever it (re)starts receiving. After
// the first time, events may have been missed while it was down, so every
// connection is closed with 1012 and its client reconnects and reloads.
func (h *Hub) busListening() {
	h.listening.Store(true)
	first := false
	h.readyOnce.Do(func() {
		first = true
		close(h.busReady)
	})
	if first {
		return
	}
	h.opts.Logger.Warn("realtime: event bus reconnected; closing connections so clients reload")
	h.closeAll(CloseServiceRestart, "events may have been missed; reconnect")
}

// Shutdown closes every connection with 1001 and refuses new ones, stops the
// bus, and waits until the connections have said goodbye or ctx ends, when
// it drops those that remain.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.closeAll(CloseGoingAway, "server shutting down")
	if h.busCancel != nil {
		h.busCancel()
	}
	done := make(chan struct{})
	go func() {
		h.conns.Wait()
		if h.busDone != nil {
			<-h.busDone
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// Peers that did not take their close frame in time are dropped.
		h.mu.Lock()
		for _, r := range h.rooms {
			for c := range r.clients {
				c.abort()
			}
		}
		h.mu.Unlock()
	}
}

// Closing reports whether Shutdown has begun.
func (h *Hub) Closing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closing
}

// BeforeShutdown returns a context to run the HTTP server with: it ends when
// parent ends, but only after the hub has closed its connections (waiting at
// most grace). Fiber's shutdown neither closes nor waits for the hijacked
// connections sockets and streams run on, so they must be closed first.
func (h *Hub) BeforeShutdown(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	go func() {
		select {
		case <-parent.Done():
			sctx, scancel := context.WithTimeout(context.Background(), grace)
			h.Shutdown(sctx)
			scancel()
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Stats describes the hub's connections, for tests and metrics.
type Stats struct {
	Connections int
	Users       int
	// Queued is the number of messages waiting in all send queues.
	Queued int
	// MaxQueued is the longest single send queue.
	MaxQueued int
	// SlowDisconnects counts connections closed because their queue was full.
	SlowDisconnects int64
}

// Stats reports the current connections.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Stats{Users: len(h.rooms), SlowDisconnects: h.slow.Load()}
	for _, r := range h.rooms {
		for c := range r.clients {
			s.Connections++
			n := len(c.queue)
			s.Queued += n
			s.MaxQueued = max(s.MaxQueued, n)
		}
	}
	return s
}

// Connections is how many connections userID has on this instance.
func (h *Hub) Connections(userID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[userID]; r != nil {
		return len(r.clients)
	}
	return 0
}

// register adds a connection for sub and queues its hello; abort must drop
// the connection at once.
func (h *Hub) register(sub Subscriber, abort func()) (*client, error) {
	c := newClient(h, sub)
	c.abort = abort
	if err := h.add(c); err != nil {
		return nil, err
	}
	return c, nil
}

// add registers c, whose abort (and notify) are set, and queues its hello.
func (h *Hub) add(c *client) error {
	sub := c.sub
	hello := Hello{UserID: sub.UserID, HeartbeatSeconds: int(math.Ceil(h.opts.Heartbeat.Seconds()))}
	if !sub.SessionExpiresAt.IsZero() {
		t := models.NewTime(sub.SessionExpiresAt)
		hello.SessionExpiresAt = &t
	}
	data, err := json.Marshal(hello)
	if err != nil {
		return err
	}
	c.queue <- newMessage(TypeHello, data, time.Now())

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return ErrClosed
	}
	r := h.rooms[sub.UserID]
	if r == nil {
		r = &room{user: sub.UserID, clients: make(map[*client]struct{}), seen: make(map[int64]int)}
		h.rooms[sub.UserID] = r
	}
	r.clients[c] = struct{}{}
	if sub.SessionID != "" {
		set := h.sessions[sub.SessionID]
		if set == nil {
			set = make(map[*client]struct{})
			h.sessions[sub.SessionID] = set
		}
		set[c] = struct{}{}
	}
	h.conns.Add(1)
	if !sub.SessionExpiresAt.IsZero() {
		c.expiry = time.AfterFunc(time.Until(sub.SessionExpiresAt), func() {
			c.close(ClosePolicyViolation, "session expired")
		})
	}
	return nil
}

// unregister removes a connection whose transport has finished.
func (h *Hub) unregister(c *client) {
	if c.expiry != nil {
		c.expiry.Stop()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[c.sub.UserID]; r != nil {
		delete(r.clients, c)
		if len(r.clients) == 0 {
			delete(h.rooms, c.sub.UserID)
		}
	}
	if set := h.sessions[c.sub.SessionID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.sessions, c.sub.SessionID)
		}
	}
	h.conns.Done()
}

func (h *Hub) closeAll(code int, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.rooms {
		for c := range r.clients {
			c.close(code, reason)
		}
	}
}

// CloseSession closes every connection opened with the session, on every
// instance: call it when a session ends (sign-out, refresh rotation).
func (h *Hub) CloseSession(sessionID string) {
	if sessionID == "" {
		return
	}
	// Local connections close at once, whatever the bus does; the bus
	// message closes those on other instances (and is a no-op here).
	h.closeSessionLocal(sessionID)
	if h.opts.Bus != nil {
		h.send(context.Background(), &wireMessage{Kind: wireSession, Session: sessionID})
	}
}

// CloseSessionLocally closes only this instance's connections opened with
// the session: for callers that every instance runs, such as the session
// change watcher, where a bus message would be redundant.
func (h *Hub) CloseSessionLocally(sessionID string) { h.closeSessionLocal(sessionID) }

func (h *Hub) closeSessionLocal(sessionID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.sessions[sessionID] {
		c.close(ClosePolicyViolation, "session ended")
	}
}

// TaskChanged implements Publisher.
func (h *Hub) TaskChanged(ctx context.Context, userID, kind string, task *models.Task) {
	switch kind {
	case TypeTaskCreated, TypeTaskUpdated, TypeTaskCompleted:
	default:
		h.opts.Logger.Error("realtime: unknown task event kind", "kind", kind)
		return
	}
	if task == nil || userID == "" {
		return
	}
	data, err := json.Marshal(task)
	if err != nil {
		h.opts.Logger.Error("realtime: encode task", "task_id", task.ID, "error", err)
		return
	}
	h.publish(ctx, &event{user: userID, typ: kind, taskID: task.ID, version: task.Version, data: data, at: time.Now()})
}

// TaskDeleted implements Publisher.
func (h *Hub) TaskDeleted(ctx context.Context, userID string, id int64) {
	if userID == "" {
		return
	}
	data := fmt.Appendf(nil, `{"id":%d}`, id)
	h.publish(ctx, &event{user: userID, typ: TypeTaskDeleted, taskID: id, version: deletedVersion, data: data, at: time.Now()})
}

// Publish sends a message of any type with data (encoded as JSON) to the
// user's connections, without stats or task bookkeeping. The task events
// have their own methods; this is for other types and for tests. With a bus
// the encoded event must fit in one notification.
func (h *Hub) Publish(ctx context.Context, userID, typ string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	ev := &event{user: userID, typ: typ, data: raw, at: time.Now()}
	if h.opts.Bus == nil {
		h.dispatch(ev)
		return nil
	}
	payload, err := json.Marshal(wireFromEvent(ev, true))
	if err != nil {
		return err
	}
	if m := h.opts.Bus.MaxPayload(); m > 0 && len(payload) > m {
		return fmt.Errorf("realtime: event of %d bytes exceeds the bus limit of %d", len(payload), m)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	return h.opts.Bus.Publish(ctx, payload)
}

// publish delivers ev in process or sends it through the bus, as a reference
// when the task's JSON is too large for one notification.
func (h *Hub) publish(ctx context.Context, ev *event) {
	if h.opts.Bus == nil {
		h.dispatch(ev)
		return
	}
	h.send(ctx, wireFromEvent(ev, true))
}

func (h *Hub) send(ctx context.Context, w *wireMessage) {
	payload, err := json.Marshal(w)
	if err != nil {
		h.opts.Logger.Error("realtime: encode event", "error", err)
		return
	}
	if m := h.opts.Bus.MaxPayload(); m > 0 && len(payload) > m && w.Data != nil {
		w.Data = nil
		if payload, err = json.Marshal(w); err != nil {
			h.opts.Logger.Error("realtime: encode event", "error", err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := h.opts.Bus.Publish(ctx, payload); err != nil {
		h.opts.Logger.Warn("realtime: publish event", "kind", w.Kind, "type", w.Type, "user_id", w.User, "error", err)
	}
}

// receive handles one payload from the bus.
func (h *Hub) receive(payload []byte) {
	var w wireMessage
	if err := json.Unmarshal(payload, &w); err != nil {
		h.opts.Logger.Warn("realtime: ignoring malformed bus message", "error", err)
		return
	}
	switch w.Kind {
	case wireEvent:
		if w.User != "" && w.Type != "" {
			h.dispatch(w.event())
		}
	case wireSession:
		if w.Session != "" {
			h.closeSessionLocal(w.Session)
		}
	default:
		// A newer instance may send kinds this one does not know.
	}
}

// dispatch queues ev for its user's room, if the user has connections here,
// and makes sure a worker processes the room. It never blocks.
func (h *Hub) dispatch(ev *event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[ev.user]
	if r == nil {
		return
	}
	if len(r.inbox) >= h.opts.RoomBacklog {
		h.opts.Logger.Warn("realtime: too many pending events for a user; closing their connections", "user_id", ev.user)
		for c := range r.clients {
			c.close(CloseTryAgainLater, "too many pending events; reconnect")
		}
		r.inbox = nil
		return
	}
	r.inbox = append(r.inbox, ev)
	if !r.running {
		r.running = true
		go h.work(r)
	}
}

// work processes a room's events in order until its inbox is empty. Stats
// are loaded after a change once no further event is waiting, so a burst of
// changes costs one stats query, and they always follow the last change.
func (h *Hub) work(r *room) {
	statsDue := false
	for {
		h.mu.Lock()
		if len(r.inbox) == 0 {
			if !statsDue {
				r.running = false
				h.mu.Unlock()
				return
			}
			h.mu.Unlock()
			statsDue = false
			h.sendStats(r)
			continue
		}
		ev := r.inbox[0]
		r.inbox[0] = nil
		r.inbox = r.inbox[1:]
		h.mu.Unlock()
		if h.deliver(r, ev) && ev.taskID != 0 {
			statsDue = h.opts.Stats != nil
		}
	}
}

// deliver sends one event to the room's connections, loading the task first
// when the event is a reference. It reports whether anything was sent.
func (h *Hub) deliver(r *room, ev *event) bool {
	if ev.taskID != 0 {
		if last, ok := r.seen[ev.taskID]; ok && ev.version != 0 && last >= ev.version {
			return false
		}
		if ev.data == nil {
			if !h.load(ev) {
				return false
			}
			if last, ok := r.seen[ev.taskID]; ok && last >= ev.version {
				return false
			}
		}
		if len(r.seen) >= maxSeenTasks {
			clear(r.seen)
		}
		r.seen[ev.taskID] = ev.version
	}
	if ev.data == nil {
		return false
	}
	h.broadcast(r, newMessage(ev.typ, ev.data, ev.at))
	return true
}

// load fills in a reference event's task.
func (h *Hub) load(ev *event) bool {
	if h.opts.Task == nil || ev.typ == TypeTaskDeleted {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	t, err := h.opts.Task(ctx, ev.user, ev.taskID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && t == nil) {
		// Deleted since; its task.deleted event follows or has been sent.
		return false
	}
	if err != nil {
		h.opts.Logger.Warn("realtime: load task for event", "user_id", ev.user, "task_id", ev.taskID, "error", err)
		return false
	}
	data, err := json.Marshal(t)
	if err != nil {
		return false
	}
	ev.data, ev.version = data, t.Version
	return true
}

func (h *Hub) sendStats(r *room) {
	if h.opts.Stats == nil || !h.hasClients(r) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	stats, err := h.opts.Stats(ctx, r.user)
	if err != nil {
		h.opts.Logger.Warn("realtime: load stats", "user_id", r.user, "error", err)
		return
	}
	data, err := json.Marshal(stats)
	if err != nil {
		h.opts.Logger.Error("realtime: encode stats", "error", err)
		return
	}
	h.broadcast(r, newMessage(TypeStatsUpdated, data, time.Now()))
}

func (h *Hub) hasClients(r *room) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(r.clients) > 0
}

// broadcast queues m for every connection of the room without waiting: a
// connection whose queue is full is closed instead.
func (h *Hub) broadcast(r *room, m *message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range r.clients {
		if !c.enqueue(m) {
			h.slow.Add(1)
			h.opts.Logger.Info("realtime: disconnecting a slow client", "user_id", c.sub.UserID)
		}
	}
}
