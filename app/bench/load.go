package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// opStats is what the clients learned about one operation.
type opStats struct {
	hist      Histogram // latency of every request that got an HTTP answer
	errs      atomic.Uint64
	mu        sync.Mutex
	status    map[string]uint64 // unexpected answers by status ("404", "200 no session")
	transport map[string]uint64 // requests that got no answer, by kind
}

func (s *opStats) fail(status, transport string) {
	s.errs.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if status != "" {
		if s.status == nil {
			s.status = map[string]uint64{}
		}
		s.status[status]++
	} else {
		if s.transport == nil {
			s.transport = map[string]uint64{}
		}
		s.transport[transport]++
	}
}

// loadConfig is one timed run of the generator.
type loadConfig struct {
	target      *target
	users       []*user // nil for the baseline
	mix         Mix
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	progress    *Progress
	label       string // shown on the progress line

	// rate > 0 makes the run open-loop: requests are due at rate per second
	// over all clients, whether or not the server keeps up.
	rate float64
	// sample > 0 takes a Sample every sample of the measured time, with the
	// memory of pid when pid > 0.
	sample time.Duration
	pid    int
}

// loadResult holds the statistics of a run by operation.
type loadResult struct {
	stats       map[Op]*opStats
	counts      counters      // measured totals, for the samples
	elapsed     time.Duration // the measured part (after the warm-up)
	interrupted bool
	openLoop    *OpenLoop // nil in a closed loop
	samples     []Sample
}

// runLoad drives the target with cfg.concurrency clients. In a closed loop
// (no rate) each sends its next request when the previous one is answered;
// in an open loop each free client takes the next request due on the
// schedule, and requests that come due while all are busy are dropped.
// Requests started (or due) during the warm-up are not counted.
func runLoad(ctx context.Context, cfg loadConfig) *loadResult {
	res := &loadResult{stats: map[Op]*opStats{}}
	for _, op := range append([]Op{OpSetup, OpBaseline}, Ops...) {
		res.stats[op] = &opStats{}
	}
	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
	runCtx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var sched *schedule
	if cfg.rate > 0 {
		sched = newSchedule(start, cfg.rate, measureFrom, end, StartSlack)
	}

	var sent, failed atomic.Uint64 // all requests, warm-up included, for the progress line
	var wg sync.WaitGroup
	for i := range cfg.concurrency {
		w := &worker{
			cfg:         &cfg,
			res:         res,
			rng:         rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i))),
			measureFrom: measureFrom,
			end:         end,
			sent:        &sent,
			failed:      &failed,
			sched:       sched,
		}
		if len(cfg.users) > 0 {
			w.u = cfg.users[i%len(cfg.users)]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sched != nil {
				// The schedule ends the run: a request due just before the
				// end is still sent.
				w.loop(ctx)
			} else {
				w.loop(runCtx)
			}
		}()
	}

	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		var lastN uint64
		lastT := start
		every(time.Second, stop, func() {
			now := time.Now()
			n := sent.Load()
			rate := float64(n-lastN) / now.Sub(lastT).Seconds()
			lastN, lastT = n, now
			phase := "running"
			left := end.Sub(now)
			if now.Before(measureFrom) {
				phase, left = "warming up", measureFrom.Sub(now)
			}
			dropped := ""
			if sched != nil {
				dropped = fmt.Sprintf(", %d dropped", sched.dropped.Load())
			}
			cfg.progress.Update(fmt.Sprintf("%s: %s, %d requests, %.0f req/s, %d errors%s, %s left",
				cfg.label, phase, n, rate, failed.Load(), dropped, left.Round(time.Second)))
		})
	}()
	var smp *sampler
	if cfg.sample > 0 {
		smp = &sampler{pid: cfg.pid, interval: cfg.sample, from: measureFrom, end: end, counts: &res.counts,
			sched: sched, readMem: ReadMemory}
		bg.Add(1)
		go func() {
			defer bg.Done()
			smp.run(stop)
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	cfg.progress.Done()

	finished := time.Now()
	if finished.After(end) {
		finished = end
	}
	res.elapsed = finished.Sub(measureFrom)
	if res.elapsed < 0 {
		res.elapsed = 0
	}
	res.interrupted = ctx.Err() != nil
	if sched != nil {
		res.openLoop = sched.report(cfg.rate)
	}
	if smp != nil {
		// The last sample has the final counts, requests answered after the
		// end included, at the end of the measured time.
		if finished.After(measureFrom) {
			smp.take(finished)
		}
		res.samples = smp.samples
	}
	return res
}

// keepOwn bounds how many of its own task ids one client remembers.
const keepOwn = 4096

// worker is one client, bound to one user.
type worker struct {
	cfg         *loadConfig
	res         *loadResult
	u           *user
	rng         *rand.Rand
	measureFrom time.Time
	end         time.Time
	sent        *atomic.Uint64
	failed      *atomic.Uint64
	sched       *schedule // nil in a closed loop
	// due is the scheduled start of the open-loop request being made; the
	// first request sent for it is timed from there.
	due time.Time

	req     fasthttp.Request
	resp    fasthttp.Response
	path    []byte
	body    []byte
	seq     int
	pending []int64 // tasks it created that are not done
	done    []int64 // tasks it completed, first in line for delete
}

func (w *worker) loop(ctx context.Context) {
	if w.sched == nil {
		for ctx.Err() == nil && time.Now().Before(w.end) {
			w.do(w.cfg.mix.Pick(w.rng))
		}
		return
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		at, ok := w.sched.claim(time.Now())
		if !ok || !waitUntil(ctx, timer, at) {
			return
		}
		w.sched.begin(at)
		w.due = at
		w.do(w.cfg.mix.Pick(w.rng))
		w.due = time.Time{}
	}
}

// expect is the status a successful answer to op has.
func expect(op Op) int {
	switch op {
	case OpCreate, OpSetup:
		return fasthttp.StatusCreated
	case OpDelete:
		return fasthttp.StatusNoContent
	}
	return fasthttp.StatusOK
}

// send makes one request for op and counts it (when it started after the
// warm-up). It reports whether the answer was the expected one.
func (w *worker) send(op Op, method string, path, body []byte) bool {
	var auth []byte
	if w.u != nil {
		auth = w.u.auth
	} else {
		auth = baselineAuth
	}
	// In an open loop the request is late from the moment it was due, not
	// from when a client got round to it: timing it from its send would
	// hide the server's backlog (coordinated omission).
	t0 := w.due
	if t0.IsZero() {
		t0 = time.Now()
	}
	w.due = time.Time{}
	err := w.cfg.target.call(&w.req, &w.resp, method, string(path), auth, body)
	d := time.Since(t0)
	w.sent.Add(1)
	counted := !t0.Before(w.measureFrom) && t0.Before(w.end)
	st := w.res.stats[op]
	if err != nil {
		w.failed.Add(1)
		if counted && !errors.Is(err, context.Canceled) {
			st.fail("", transportKind(err))
			w.res.counts.requests.Add(1)
			w.res.counts.errors.Add(1)
		}
		return false
	}
	if counted {
		st.hist.Record(d)
		w.res.counts.requests.Add(1)
	}
	code := w.resp.StatusCode()
	bad := ""
	if code != expect(op) {
		bad = strconv.Itoa(code)
	} else if op == OpSession && bytes.HasPrefix(w.resp.Body(), []byte(`{"user":null`)) {
		bad = "200 without a session"
	}
	if bad != "" {
		w.failed.Add(1)
		if counted {
			st.fail(bad, "")
			w.res.counts.errors.Add(1)
			if code >= 500 {
				w.res.counts.status5xx.Add(1)
			}
		}
		return false
	}
	return true
}

func (w *worker) taskPath(id int64, suffix string) []byte {
	w.path = append(w.path[:0], "/api/tasks/"...)
	w.path = strconv.AppendInt(w.path, id, 10)
	w.path = append(w.path, suffix...)
	return w.path
}

func (w *worker) titleBody(prefix string) []byte {
	w.seq++
	w.body = append(w.body[:0], `{"title":"`...)
	w.body = append(w.body, prefix...)
	w.body = strconv.AppendInt(w.body, int64(w.seq), 10)
	w.body = append(w.body, `"}`...)
	return w.body
}

// create makes a task of the client's own; as op it is either the measured
// create or a set-up step of complete and delete.
func (w *worker) create(op Op) (int64, bool) {
	if !w.send(op, "POST", []byte("/api/tasks"), w.titleBody("bench created ")) {
		return 0, false
	}
	id, ok := taskID(w.resp.Body())
	if !ok {
		return 0, false
	}
	if len(w.pending) >= keepOwn {
		w.pending = append(w.pending[:0], w.pending[keepOwn/2:]...)
	}
	w.pending = append(w.pending, id)
	return id, true
}

// existing is a task of the user: a seeded one, else one of the client's.
func (w *worker) existing() (int64, bool) {
	if n := len(w.u.ids); n > 0 {
		return w.u.ids[w.rng.IntN(n)], true
	}
	if n := len(w.pending); n > 0 {
		return w.pending[w.rng.IntN(n)], true
	}
	if n := len(w.done); n > 0 {
		return w.done[w.rng.IntN(n)], true
	}
	return w.create(OpSetup)
}

func pop(s *[]int64) (int64, bool) {
	n := len(*s)
	if n == 0 {
		return 0, false
	}
	id := (*s)[n-1]
	*s = (*s)[:n-1]
	return id, true
}

func (w *worker) do(op Op) {
	switch op {
	case OpBaseline:
		w.send(op, "GET", []byte(baselinePath), nil)
	case OpList:
		w.send(op, "GET", []byte("/api/tasks?limit=20"), nil)
	case OpStats:
		w.send(op, "GET", []byte("/api/dashboard/stats"), nil)
	case OpOverview:
		w.send(op, "GET", []byte("/api/dashboard/overview"), nil)
	case OpSession:
		w.send(op, "GET", []byte("/api/auth/session"), nil)
	case OpLogin:
		// A full sign-in: the password hash is checked and a session made,
		// as in a login flood (--op login --rate 100 beside another run).
		w.send(op, "POST", []byte("/api/auth/login"), w.u.login)
	case OpCreate:
		w.create(OpCreate)
	case OpGet:
		if id, ok := w.existing(); ok {
			w.send(op, "GET", w.taskPath(id, ""), nil)
		}
	case OpUpdate:
		if id, ok := w.existing(); ok {
			path := w.taskPath(id, "")
			w.send(op, "PATCH", path, w.titleBody("bench updated "))
		}
	case OpComplete:
		id, ok := pop(&w.pending)
		if !ok {
			if _, ok = w.create(OpSetup); !ok {
				return
			}
			id, _ = pop(&w.pending)
		}
		if w.send(op, "PATCH", w.taskPath(id, "/complete"), nil) {
			if len(w.done) >= keepOwn {
				w.done = append(w.done[:0], w.done[keepOwn/2:]...)
			}
			w.done = append(w.done, id)
		}
	case OpDelete:
		id, ok := pop(&w.done)
		if !ok {
			id, ok = pop(&w.pending)
		}
		if !ok {
			if _, ok = w.create(OpSetup); !ok {
				return
			}
			id, _ = pop(&w.pending)
		}
		w.send(op, "DELETE", w.taskPath(id, ""), nil)
	}
}

// opResult turns the statistics of op into its report line.
func (r *loadResult) opResult(op Op) OpResult {
	st := r.stats[op]
	out := OpResult{Op: string(op), Errors: st.errs.Load()}
	out.Requests = st.hist.Count() + countAll(st.transport, &st.mu)
	if secs := r.elapsed.Seconds(); secs > 0 {
		out.RPS = float64(out.Requests) / secs
	}
	out.fill(&st.hist)
	st.mu.Lock()
	out.ByStatus = copyMap(st.status)
	out.Transport = copyMap(st.transport)
	st.mu.Unlock()
	return out
}

func countAll(m map[string]uint64, mu *sync.Mutex) uint64 {
	mu.Lock()
	defer mu.Unlock()
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func copyMap(m map[string]uint64) map[string]uint64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// results lists the operations that were used, in report order, and their
// total.
func (r *loadResult) results() ([]OpResult, OpResult) {
	var out []OpResult
	all := &Histogram{}
	total := OpResult{Op: "total"}
	order := append(append([]Op{OpBaseline}, Ops...), OpSetup)
	for _, op := range order {
		o := r.opResult(op)
		if o.Requests == 0 && o.Errors == 0 {
			continue
		}
		out = append(out, o)
		all.Merge(&r.stats[op].hist)
		total.Requests += o.Requests
		total.Errors += o.Errors
		total.ByStatus = addMap(total.ByStatus, o.ByStatus)
		total.Transport = addMap(total.Transport, o.Transport)
	}
	if secs := r.elapsed.Seconds(); secs > 0 {
		total.RPS = float64(total.Requests) / secs
	}
	total.fill(all)
	return out, total
}

func addMap(dst, src map[string]uint64) map[string]uint64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]uint64{}
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

// sortedKeys lists a map's keys in order.
func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
