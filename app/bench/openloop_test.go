package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestScheduleClaim(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// One request per millisecond; the warm-up is the first 10, the
	// measured time the next 10.
	s := newSchedule(t0, 1000, at(10*time.Millisecond), at(20*time.Millisecond), time.Millisecond)
	claim := func(now time.Duration, want time.Duration) {
		t.Helper()
		got, ok := s.claim(at(now))
		if !ok || !got.Equal(at(want)) {
			t.Fatalf("claim at %s = %s, %v; want %s", now, got.Sub(t0), ok, want)
		}
		s.begin(got)
	}
	// Free clients take requests ahead of time and wait for them.
	claim(0, 0)
	claim(0, time.Millisecond)
	// A client free at 5.5ms skips those due at 2, 3 and 4ms (every client
	// was busy then) and takes the one due at 5ms, within the slack.
	claim(5500*time.Microsecond, 5*time.Millisecond)
	if d, st := s.dropped.Load(), s.started.Load(); d != 0 || st != 0 {
		t.Fatalf("warm-up requests counted: %d dropped, %d started", d, st)
	}
	// At 15ms: 6..13 are overdue (10..13 measured), 14 is exactly one slack
	// late, which still counts as on time.
	claim(15*time.Millisecond, 14*time.Millisecond)
	if d, st := s.dropped.Load(), s.started.Load(); d != 4 || st != 1 {
		t.Fatalf("at 15ms: %d dropped, %d started; want 4, 1", d, st)
	}
	// After the end: 15..19 were never taken, and nothing is left.
	if got, ok := s.claim(at(25 * time.Millisecond)); ok {
		t.Fatalf("claim after the end = %s", got.Sub(t0))
	}
	if _, ok := s.claim(at(30 * time.Millisecond)); ok {
		t.Fatal("a second claim after the end succeeded")
	}
	want := OpenLoop{Rate: 1000, Offered: 10, Started: 1, Dropped: 9, SlackMs: 1}
	if got := s.report(1000); *got != want {
		t.Fatalf("report = %+v, want %+v", *got, want)
	}
}

// Due times come from the rate, not from adding up rounded intervals, so a
// long run at an awkward rate does not drift.
func TestScheduleDoesNotDrift(t *testing.T) {
	t0 := time.Now()
	s := newSchedule(t0, 3, t0, t0.Add(time.Hour), time.Millisecond)
	for _, c := range []struct {
		i    uint64
		want time.Duration
	}{{1, 333333333}, {3, time.Second}, {3 * 3600, time.Hour}} {
		if got := s.due(c.i).Sub(t0); (got - c.want).Abs() > time.Microsecond {
			t.Errorf("request %d due at %s, want %s", c.i, got, c.want)
		}
	}
}

// slowServer answers the baseline path after delay(n) for the n-th request
// (from 0), with status(n).
func slowServer(t *testing.T, delay func(n int64) time.Duration, status func(n int64) int) *target {
	t.Helper()
	var count atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := count.Add(1) - 1
		time.Sleep(delay(n))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status(n))
		_, _ = w.Write([]byte(`{"ok":true,"n":42}`))
	}))
	t.Cleanup(srv.Close)
	tg, err := newTarget(srv.URL, 8, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func ok200(int64) int { return http.StatusOK }

// Offered above capacity, an open loop keeps to its rate: what the busy
// clients cannot start is dropped, not postponed, and every request's
// latency includes the time it was due before it went out.
func TestOpenLoopAboveCapacity(t *testing.T) {
	const service = 20 * time.Millisecond
	tg := slowServer(t, func(int64) time.Duration { return service }, ok200)
	// Two clients at 20ms each serve at most 100 requests/s; 200 are due.
	res := runLoad(context.Background(), loadConfig{target: tg, mix: SingleOp(OpBaseline), concurrency: 2,
		duration: time.Second, warmup: 100 * time.Millisecond, rate: 200})
	ol := res.openLoop
	if ol == nil {
		t.Fatal("no open-loop report")
	}
	ops, total := res.results()
	t.Logf("%+v; %d requests, p50 %.1fms, p99 %.1fms", *ol, total.Requests, total.P50Ms, total.P99Ms)
	if ol.Offered < 195 || ol.Offered > 201 || ol.Started+ol.Dropped != ol.Offered {
		t.Errorf("offered %d (started %d + dropped %d), want 200", ol.Offered, ol.Started, ol.Dropped)
	}
	// 100/s is the ceiling; a loaded machine serves fewer.
	if ol.Started < 50 || ol.Started > 105 || ol.Dropped < 95 {
		t.Errorf("started %d, dropped %d: want about 100 each", ol.Started, ol.Dropped)
	}
	if len(ops) != 1 || total.Requests != ol.Started || total.Errors != 0 {
		t.Errorf("requests %d, errors %d, want %d and 0", total.Requests, total.Errors, ol.Started)
	}
	if total.P50Ms < ms(service) || total.MaxMs > 1000 {
		t.Errorf("p50 %.1fms, max %.1fms: want at least the service time and no queueing", total.P50Ms, total.MaxMs)
	}
}

// A server that stalls once: a closed loop would record one slow request
// and then carry on as if nothing had happened; the open loop records the
// requests due during the stall as dropped and the stalled one's full delay.
func TestOpenLoopCountsAStall(t *testing.T) {
	const stall = 400 * time.Millisecond
	var stalled atomic.Bool
	tg := slowServer(t, func(n int64) time.Duration {
		if n == 10 {
			stalled.Store(true)
			return stall
		}
		return 0
	}, ok200)
	res := runLoad(context.Background(), loadConfig{target: tg, mix: SingleOp(OpBaseline), concurrency: 1,
		duration: 800 * time.Millisecond, rate: 50})
	_, total := res.results()
	ol := res.openLoop
	t.Logf("%+v; max %.1fms", *ol, total.MaxMs)
	if !stalled.Load() {
		t.Fatal("the stall did not happen")
	}
	// 20 requests are due in the 400ms the one client is stuck.
	if ol.Dropped < 15 || ol.Offered < 38 || ol.Offered > 41 {
		t.Errorf("offered %d, dropped %d: want 40, about 20", ol.Offered, ol.Dropped)
	}
	if total.MaxMs < ms(stall) {
		t.Errorf("max %.1fms, below the %s stall", total.MaxMs, stall)
	}
}

// Samples are taken at each interval of the measured time and at its end,
// with the server's memory and cumulative counts that end where the report
// does.
func TestSamples(t *testing.T) {
	tg := slowServer(t, func(int64) time.Duration { return time.Millisecond }, func(n int64) int {
		switch n % 10 {
		case 3:
			return http.StatusInternalServerError
		case 7:
			return http.StatusNotFound
		}
		return http.StatusOK
	})
	if _, err := ReadMemory(os.Getpid()); err != nil {
		t.Skipf("cannot read this process's memory: %v", err)
	}
	const interval = 100 * time.Millisecond
	res := runLoad(context.Background(), loadConfig{target: tg, mix: SingleOp(OpBaseline), concurrency: 2,
		duration: time.Second, warmup: 200 * time.Millisecond, sample: interval, pid: os.Getpid()})
	ops, total := res.results()
	rep := &Report{Target: "test", Mix: string(OpBaseline) + "-like", Concurrency: 2, Duration: res.elapsed.Seconds(),
		Ops: ops, Total: total, Samples: res.samples}
	s := res.samples
	// A loaded machine wakes the sampler late, never early; one that comes
	// due after the end is left to the final sample.
	if len(s) < 6 || len(s) > 11 {
		t.Fatalf("%d samples in 1s at %s: %+v", len(s), interval, s)
	}
	if s[0].Seconds < 0 || s[0].Seconds > 0.05 || s[0].Requests > 2 {
		t.Errorf("first sample %+v: want the start of the measured time", s[0])
	}
	for i, smp := range s {
		if smp.RSS == 0 || smp.Peak < smp.RSS || smp.Error != "" {
			t.Errorf("sample %d: memory %+v", i, smp)
		}
		if i > 0 && (smp.Seconds <= s[i-1].Seconds || smp.Requests < s[i-1].Requests ||
			smp.Errors < s[i-1].Errors || smp.Status5xx < s[i-1].Status5xx) {
			t.Errorf("sample %d goes backwards: %+v after %+v", i, smp, s[i-1])
		}
		if i > 0 && i < len(s)-1 {
			if want := float64(i) * interval.Seconds(); smp.Seconds < want {
				t.Errorf("sample %d at %.3fs, before %.1fs", i, smp.Seconds, want)
			}
		}
	}
	last := s[len(s)-1]
	if last.Seconds != res.elapsed.Seconds() || last.Requests != total.Requests || last.Errors != total.Errors ||
		last.Status5xx != total.ByStatus["500"] || last.Status5xx == 0 || total.ByStatus["404"] == 0 {
		t.Errorf("last sample %+v, report %+v", last, total)
	}

	var text, js bytes.Buffer
	if err := (&Result{HTTP: rep}).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", text.String())
	for _, want := range []string{"over time", "rss", "5xx", "100ms", " MiB"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if err := (&Result{HTTP: rep}).WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		HTTP struct {
			Samples []Sample `json:"samples"`
		} `json:"http"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || len(doc.HTTP.Samples) != len(s) || doc.HTTP.Samples[len(s)-1] != last {
		t.Errorf("JSON samples: %v %+v", err, doc.HTTP.Samples)
	}
}

// A process that is gone is reported in its sample, and the run goes on.
func TestSampleWithoutMemory(t *testing.T) {
	smp := &sampler{pid: 1 << 30, counts: &counters{}, readMem: func(int) (Memory, error) {
		return Memory{}, errors.New("no such process")
	}}
	smp.counts.requests.Add(5)
	smp.take(time.Now())
	if s := smp.samples[0]; s.RSS != 0 || s.Error != "no such process" || s.Requests != 5 {
		t.Fatalf("sample %+v", s)
	}
	var out bytes.Buffer
	ew := &errWriter{w: &out}
	writeSamples(ew, smp.samples, false)
	if !strings.Contains(out.String(), "rss not read: no such process") {
		t.Errorf("table:\n%s", out.String())
	}
}
