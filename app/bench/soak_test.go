package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/todo-app/todo/app/bench"
	"github.com/todo-app/todo/app/server/servertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	servertest.RemoveTodoBinary()
	os.Exit(code)
}

// SoakEnv gives the soak test's measured duration (a Go duration such as
// 10m); without it the test runs its short CI version.
const SoakEnv = "TODOTEST_SOAK"

const (
	soakShort   = 15 * time.Second
	soakWarmup  = time.Second
	soakGrowth  = 1.5 // the last third's peak RSS over the first third's, at most
	serveLimit  = 30 * time.Second
	soakSecret  = "soak-test-secret-3c8e51f0a92d4b76e1f5a0c3"
	soakTimeout = 10 * time.Second // per request
)

// serveProcess runs `todo serve` on a fresh SQLite database as a process of
// its own, so its RSS is the server's alone, and returns its URL and pid.
func serveProcess(t *testing.T) (string, int) {
	t.Helper()
	bin := servertest.TodoBinary(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir // no config.yaml here
	cmd.Env = append(servertest.CleanEnv(),
		"TODO_DATABASE_URL=sqlite://"+filepath.Join(dir, "soak.db"),
		"BETTER_AUTH_SECRET="+soakSecret,
		"TODO_SERVER_ADDR="+addr,
		"TODO_RATELIMIT_ENABLED=false",
		"TODO_AUTH_BCRYPT_COST=4",
		"TODO_LOG_LEVEL=warn",
	)
	log := &servertest.LogBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start todo serve: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("todo serve output:\n%s", log.String())
		}
	})
	url := "http://" + addr
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(serveLimit)
	for {
		select {
		case <-exited:
			t.Fatalf("todo serve exited at start:\n%s", log.String())
		default:
		}
		if resp, err := client.Get(url + "/health"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, cmd.Process.Pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("todo serve not healthy within %s:\n%s", serveLimit, log.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// soakDuration is the measured time and the sampling interval: 15 s
// sampled every second in CI, or TODOTEST_SOAK sampled about 60 times.
func soakDuration(t *testing.T) (time.Duration, time.Duration) {
	v := os.Getenv(SoakEnv)
	if v == "" {
		return soakShort, time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 3*time.Second {
		t.Fatalf("%s=%q: want a duration of at least 3s, such as 10m", SoakEnv, v)
	}
	return d, max(time.Second, (d / 60).Round(time.Second))
}

// The default mix against `todo serve` on SQLite: no 5xx (no error at all)
// and memory that levels off instead of growing with the traffic.
//
// The memory criterion: the highest RSS sampled in the last third of the
// measured time must stay below 1.5 times the highest of the first third.
// The first third starts after a warm-up, when the Go heap, the SQLite page
// caches and the connection buffers have grown to their working size; from
// then on a server that holds on to something per request (a leak) keeps
// growing with the request count, which over the last two thirds of the run
// is twice what it was over the first: a leak that holds a quarter of the
// server's memory by the end of the first third ends the run at 1.5 times
// that, and fails. (Smaller leaks need the longer run, TODOTEST_SOAK=10m or
// the documented `todo bench --sample` soak, to show.) Comparing
// the maxima of windows, not single samples, keeps the garbage collector's
// saw-tooth (RSS rises until a collection, and freed memory returns to the
// OS only slowly) from deciding the outcome either way. What it allows is
// slow growth that the database itself explains: SQLite's file grows by the
// created tasks, but its caches are bounded, so that growth is small.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a server for 15 s")
	}
	duration, interval := soakDuration(t)
	url, pid := serveProcess(t)
	mix, err := bench.ParseMix(bench.DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bench.Run(context.Background(), bench.Options{URL: url, Users: 4, Tasks: 200, Concurrency: 8,
		Duration: duration, Warmup: soakWarmup, Mix: mix, SeedConcurrency: 4, Timeout: soakTimeout,
		PID: pid, Sample: interval})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := (&bench.Result{HTTP: rep}).WriteText(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())

	if rep.Total.Requests == 0 {
		t.Fatal("no requests were made")
	}
	if rep.Total.Errors != 0 {
		t.Errorf("errors: %s", summary(rep.Total))
	}
	s := rep.Samples
	if want := int(duration / interval); len(s) < want/2 {
		t.Fatalf("%d samples in %s at %s", len(s), duration, interval)
	}
	for _, smp := range s {
		if smp.Error != "" || smp.RSS == 0 {
			t.Fatalf("sample at %.1fs: the server's memory was not read: %s", smp.Seconds, smp.Error)
		}
	}
	if last := s[len(s)-1]; last.Status5xx != 0 {
		t.Errorf("%d answers with a 5xx status", last.Status5xx)
	}
	first, final := peakRSS(s, 0, duration/3), peakRSS(s, 2*duration/3, duration+time.Second)
	t.Logf("peak RSS: %.1f MiB in the first third, %.1f MiB in the last (%.2fx; at most %.1fx)",
		mib(first), mib(final), float64(final)/float64(first), soakGrowth)
	if first == 0 || final == 0 {
		t.Fatalf("no sample in the first or last third: %+v", s)
	}
	if float64(final) >= soakGrowth*float64(first) {
		t.Errorf("RSS keeps growing: peak %.1f MiB in the last third against %.1f MiB in the first",
			mib(final), mib(first))
	}
}

// peakRSS is the highest RSS sampled in [from, to) of the measured time.
func peakRSS(s []bench.Sample, from, to time.Duration) uint64 {
	var peak uint64
	for _, smp := range s {
		if at := time.Duration(smp.Seconds * float64(time.Second)); at >= from && at < to {
			peak = max(peak, smp.RSS)
		}
	}
	return peak
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func summary(o bench.OpResult) string {
	return fmt.Sprintf("%d (by status %v, transport %v)", o.Errors, o.ByStatus, o.Transport)
}
