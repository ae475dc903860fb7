package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/todo-app/todo/app/bench"
	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/server/servertest"
)

// startServer runs the real application (with its live-update hub) on a
// fresh SQLite database, rate limits off.
func startServer(t *testing.T, mutate func(*config.Config)) string {
	t.Helper()
	inst := servertest.StartInstance(t, servertest.NewDatabaseURL(t, database.SQLite), servertest.InstanceOptions{Mutate: mutate})
	return inst.URL
}

func checkOps(t *testing.T, rep *bench.Report, want ...string) {
	t.Helper()
	if rep.Total.Errors != 0 {
		t.Fatalf("errors: %+v", rep.Total)
	}
	for _, name := range want {
		o := rep.Op(name)
		if o == nil || o.Requests == 0 || o.RPS <= 0 {
			t.Fatalf("%s did not run: %+v", name, rep.Ops)
		}
		if !(o.P50Ms > 0 && o.P50Ms <= o.P95Ms && o.P95Ms <= o.P99Ms && o.P99Ms <= o.MaxMs) {
			t.Errorf("%s: percentiles out of order: %+v", name, o)
		}
	}
}

func TestBenchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and drives it for a few seconds")
	}
	url := startServer(t, nil)
	ctx := context.Background()
	base := bench.Options{URL: url, Users: 2, Tasks: 20, Concurrency: 4, Duration: time.Second,
		Warmup: 200 * time.Millisecond, SeedConcurrency: 4, Timeout: 10 * time.Second}

	t.Run("list", func(t *testing.T) {
		o := base
		o.Mix = bench.SingleOp(bench.OpList)
		rep, err := bench.Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		checkOps(t, rep, "list")
		if len(rep.Ops) != 1 || rep.Server != nil || !strings.Contains(rep.MemoryNote, "--pid") {
			t.Errorf("report: %+v", rep)
		}
		var out bytes.Buffer
		if err := (&bench.Result{HTTP: rep}).WriteText(&out); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"op list", "req/s", "p99", "errors: none", "rss: pass --pid"} {
			if !strings.Contains(out.String(), s) {
				t.Errorf("text output lacks %q:\n%s", s, out.String())
			}
		}
		t.Logf("\n%s", out.String())
	})

	t.Run("mix", func(t *testing.T) {
		o := base
		o.Tasks = 0 // get and update then work on tasks the clients create
		o.Mix, _ = bench.ParseMix("list=1,get=1,create=1,update=1,complete=1,delete=1,stats=1,overview=1,session=1")
		rep, err := bench.Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		checkOps(t, rep, "list", "get", "create", "update", "complete", "delete", "stats", "overview", "session")
		var js bytes.Buffer
		if err := (&bench.Result{HTTP: rep}).WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		var doc map[string]map[string]any
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc["http"]["ops"] == nil {
			t.Fatalf("JSON output: %v\n%s", err, js.String())
		}
	})

	t.Run("ws", func(t *testing.T) {
		rep, err := bench.RunWS(ctx, bench.WSOptions{URL: url, Users: 2, Conns: 6, Rate: 20, Duration: time.Second,
			DeliveryTimeout: 5 * time.Second, DialConcurrency: 4, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Opened != 6 || len(rep.OpenFailures) != 0 {
			t.Fatalf("opened %d sockets, failures %v", rep.Opened, rep.OpenFailures)
		}
		if rep.Changes < 10 || len(rep.ChangeErrors) != 0 || rep.Skipped != 0 {
			t.Fatalf("changes %d, errors %v, skipped %d", rep.Changes, rep.ChangeErrors, rep.Skipped)
		}
		// Each change reaches the 3 sockets of its user.
		if rep.Expected != 3*rep.Changes || rep.Delivered != rep.Expected || rep.Missed != 0 {
			t.Fatalf("expected %d, delivered %d, missed %d for %d changes", rep.Expected, rep.Delivered, rep.Missed, rep.Changes)
		}
		if rep.Delivery.Count != rep.Delivered || rep.AllSockets.Count != rep.Changes ||
			rep.Delivery.P50Ms <= 0 || rep.Delivery.P99Ms > rep.Delivery.MaxMs || len(rep.Closed) != 0 {
			t.Fatalf("delays: %+v %+v closed %v", rep.Delivery, rep.AllSockets, rep.Closed)
		}
		var out bytes.Buffer
		if err := (&bench.Result{WS: rep}).WriteText(&out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "0 missed") {
			t.Errorf("text output:\n%s", out.String())
		}
		t.Logf("\n%s", out.String())
	})

	t.Run("baseline", func(t *testing.T) {
		o := base
		o.Duration, o.Warmup = 300*time.Millisecond, 0
		rep, err := bench.RunBaseline(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		checkOps(t, rep, "baseline")
	})
}

func TestBenchStopsOnRateLimit(t *testing.T) {
	url := startServer(t, func(c *config.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.AuthPerMinute = 1
	})
	_, err := bench.Run(context.Background(), bench.Options{URL: url, Users: 3, Concurrency: 1, Duration: time.Second,
		Mix: bench.SingleOp(bench.OpList), SeedConcurrency: 1})
	if !errors.Is(err, bench.ErrRateLimited) || !strings.Contains(err.Error(), "ratelimit.enabled") {
		t.Fatalf("err = %v, want the rate-limit explanation", err)
	}
}
