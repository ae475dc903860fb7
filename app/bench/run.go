// Package bench is the load generator behind `todo bench`: it signs up
// users on a running server, seeds their tasks, drives one operation or a
// mix of them with concurrent clients and reports throughput and latency
// percentiles per operation; in WebSocket mode it holds many sockets and
// measures how long a change takes to reach each of them.
package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Options configure an HTTP load run.
type Options struct {
	URL             string
	Users           int           // accounts signed up, each client bound to one (round robin)
	Tasks           int           // tasks seeded per user
	Concurrency     int           // concurrent clients
	Duration        time.Duration // measured time
	Warmup          time.Duration // time driven but not measured, first
	Mix             Mix           // what the clients do
	SeedConcurrency int           // workers signing up and seeding
	Timeout         time.Duration // per request
	PID             int           // the server's process, to read its memory (0: none)
	// Rate > 0 offers that many requests per second over all clients, open
	// loop; 0 is a closed loop, each client sending when answered.
	Rate float64
	// Sample > 0 records the server's memory (with PID) and the cumulative
	// counts every Sample of the measured time.
	Sample   time.Duration
	Progress *Progress
}

func (o *Options) check() error {
	switch {
	case o.Users < 1:
		return errors.New("--users must be at least 1")
	case o.Tasks < 0:
		return errors.New("--tasks cannot be negative")
	case o.Concurrency < 1:
		return errors.New("--concurrency must be at least 1")
	case o.Duration <= 0:
		return errors.New("--duration must be positive")
	case o.Warmup < 0:
		return errors.New("--warmup cannot be negative")
	case len(o.Mix.ops) == 0:
		return errors.New("no operation to run")
	case o.Rate < 0:
		return errors.New("--rate cannot be negative")
	case o.Sample < 0:
		return errors.New("--sample cannot be negative")
	}
	if o.SeedConcurrency < 1 {
		o.SeedConcurrency = 1
	}
	return nil
}

// Report is the outcome of an HTTP load run (or of the baseline).
type Report struct {
	Target      string     `json:"target"`
	Mix         string     `json:"mix"`
	Weights     []Weight   `json:"weights,omitempty"`
	Users       int        `json:"users"`
	Tasks       int        `json:"tasks_per_user"`
	Concurrency int        `json:"concurrency"`
	Duration    float64    `json:"duration_seconds"` // measured
	Warmup      float64    `json:"warmup_seconds"`
	SetupTime   float64    `json:"setup_seconds"` // sign-up and seeding
	Interrupted bool       `json:"interrupted,omitempty"`
	OpenLoop    *OpenLoop  `json:"open_loop,omitempty"` // absent in a closed loop
	Ops         []OpResult `json:"ops"`
	Total       OpResult   `json:"total"`
	Server      *ServerMem `json:"server_memory,omitempty"`
	MemoryNote  string     `json:"server_memory_note,omitempty"`
	Samples     []Sample   `json:"samples,omitempty"` // with --sample
}

// ServerMem is the server's memory before and after the measured run.
type ServerMem struct {
	PID    int    `json:"pid"`
	Before Memory `json:"before"`
	After  Memory `json:"after"`
}

// OpResult is the line of one operation. Requests counts every request
// started during the measured time, answered or not; the latencies are those
// of the requests that got an HTTP answer, whatever its status.
type OpResult struct {
	Op        string            `json:"op"`
	Requests  uint64            `json:"requests"`
	RPS       float64           `json:"requests_per_second"`
	MeanMs    float64           `json:"mean_ms"`
	P50Ms     float64           `json:"p50_ms"`
	P95Ms     float64           `json:"p95_ms"`
	P99Ms     float64           `json:"p99_ms"`
	MaxMs     float64           `json:"max_ms"`
	Errors    uint64            `json:"errors"`
	ByStatus  map[string]uint64 `json:"errors_by_status,omitempty"`
	Transport map[string]uint64 `json:"transport_errors,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (o *OpResult) fill(h *Histogram) {
	o.MeanMs = ms(h.Mean())
	o.P50Ms = ms(h.Percentile(50))
	o.P95Ms = ms(h.Percentile(95))
	o.P99Ms = ms(h.Percentile(99))
	o.MaxMs = ms(h.Max())
}

// Op finds the line of an operation (nil when it did not run).
func (r *Report) Op(name string) *OpResult {
	for i := range r.Ops {
		if r.Ops[i].Op == name {
			return &r.Ops[i]
		}
	}
	return nil
}

// Run signs up the users, seeds their tasks and drives the server.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	_, _ = RaiseFileLimit()
	t, err := newTarget(o.URL, o.Concurrency+o.SeedConcurrency, o.Timeout)
	if err != nil {
		return nil, err
	}
	if o.PID > 0 {
		if _, err := ReadMemory(o.PID); err != nil {
			return nil, err // before the set-up, which can take a while
		}
	}
	rep := &Report{Target: t.base, Mix: o.Mix.String(), Users: o.Users, Tasks: o.Tasks,
		Concurrency: o.Concurrency, Duration: o.Duration.Seconds(), Warmup: o.Warmup.Seconds()}
	if len(o.Mix.ops) > 1 {
		rep.Weights = o.Mix.Weights()
	}
	setupStart := time.Now()
	users, err := signUp(ctx, t, o.Users, o.SeedConcurrency, o.Progress)
	if err != nil {
		o.Progress.Done()
		return nil, err
	}
	if err := seed(ctx, t, users, o.Tasks, o.SeedConcurrency, o.Progress); err != nil {
		o.Progress.Done()
		return nil, err
	}
	o.Progress.Done()
	rep.SetupTime = time.Since(setupStart).Seconds()

	var before Memory
	if o.PID > 0 {
		if before, err = ReadMemory(o.PID); err != nil {
			return nil, err
		}
	}
	res := runLoad(ctx, loadConfig{target: t, users: users, mix: o.Mix, concurrency: o.Concurrency,
		duration: o.Duration, warmup: o.Warmup, progress: o.Progress, label: "bench " + rep.Mix,
		rate: o.Rate, sample: o.Sample, pid: o.PID})
	rep.Ops, rep.Total = res.results()
	rep.Duration = res.elapsed.Seconds()
	rep.Interrupted = res.interrupted
	rep.OpenLoop = res.openLoop
	rep.Samples = res.samples
	rep.Server, rep.MemoryNote = serverMemory(o.PID, before, t.loopback)
	return rep, nil
}

// serverMemory reads the server's memory after a run, or says why not.
func serverMemory(pid int, before Memory, loopback bool) (*ServerMem, string) {
	if pid <= 0 {
		if loopback {
			return nil, "pass --pid to read the server's memory"
		}
		return nil, "not available for a server on another machine"
	}
	after, err := ReadMemory(pid)
	if err != nil {
		return nil, err.Error()
	}
	return &ServerMem{PID: pid, Before: before, After: after}, ""
}

// The baseline is the smallest Fiber application: one route answering a
// small JSON object. Driven like the real server, it shows the ceiling that
// the framework, the network stack and the generator allow on this machine.
const baselinePath = "/api/baseline"

var baselineAuth = []byte("Bearer baseline-token-of-the-same-length-as-a-real-one")

type baselineJSON struct {
	OK bool `json:"ok"`
	N  int  `json:"n"`
}

// StartBaseline runs the baseline server on 127.0.0.1 and returns its URL and
// a function that stops it.
func StartBaseline() (string, func(), error) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get(baselinePath, func(c *fiber.Ctx) error {
		return c.JSON(baselineJSON{OK: true, N: 42})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
	}()
	stop := func() {
		_ = app.ShutdownWithTimeout(2 * time.Second)
		<-done
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// RunBaseline drives the baseline server with the concurrency, duration and
// warm-up of o (its users, tasks and mix do not apply). It always runs a
// closed loop: it measures a ceiling, which a fixed rate would cap.
func RunBaseline(ctx context.Context, o Options) (*Report, error) {
	o.Mix = SingleOp(OpBaseline)
	o.Users = 1
	o.Rate, o.Sample = 0, 0
	if err := o.check(); err != nil {
		return nil, err
	}
	_, _ = RaiseFileLimit()
	url, stop, err := StartBaseline()
	if err != nil {
		return nil, fmt.Errorf("starting the baseline server: %w", err)
	}
	defer stop()
	t, err := newTarget(url, o.Concurrency, o.Timeout)
	if err != nil {
		return nil, err
	}
	res := runLoad(ctx, loadConfig{target: t, mix: o.Mix, concurrency: o.Concurrency,
		duration: o.Duration, warmup: o.Warmup, progress: o.Progress, label: "baseline"})
	rep := &Report{Target: url + baselinePath + " (in-process baseline)", Mix: string(OpBaseline),
		Concurrency: o.Concurrency, Warmup: o.Warmup.Seconds()}
	rep.Ops, rep.Total = res.results()
	rep.Duration = res.elapsed.Seconds()
	rep.Interrupted = res.interrupted
	return rep, nil
}

// Ratios divides each operation's requests per second (and the total's) by
// the baseline's.
func Ratios(r, baseline *Report) map[string]float64 {
	if baseline == nil || baseline.Total.RPS == 0 {
		return nil
	}
	out := map[string]float64{}
	for _, o := range r.Ops {
		out[o.Op] = o.RPS / baseline.Total.RPS
	}
	out["total"] = r.Total.RPS / baseline.Total.RPS
	return out
}
