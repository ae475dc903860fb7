package cli

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/todo-app/todo/app/bench"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
)

// The flags that belong to one mode are refused in the other, before any
// request is made.
func TestBenchFlagChecks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ws", "--sample", "1s"}, "--sample does not apply to --ws"},
		{[]string{"--ws", "--concurrency", "4"}, "--concurrency does not apply to --ws"},
		{[]string{"--conns", "5"}, "--conns applies only with --ws"},
		{[]string{"--baseline", "--rate", "100"}, "do not apply to --baseline"},
		{[]string{"--baseline", "--sample", "1s"}, "do not apply to --baseline"},
		{[]string{"--rate", "-1"}, "--rate cannot be negative"},
		{[]string{"--sample", "-1s"}, "--sample cannot be negative"},
		{[]string{"--ws", "--rate", "0"}, "--rate must be positive"},
	} {
		// Port 1 on loopback: nothing must get as far as connecting.
		_, _, err := run(t, append([]string{"bench", "--url", "http://127.0.0.1:1"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench %v: %v, want %q", c.args, err, c.want)
		}
	}
}

// --rate runs an open loop in HTTP mode and --sample records the series,
// both in the JSON document.
func TestBenchRateAndSample(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, dbtest.NewURL(t, database.SQLite))
	cfg.RateLimit.Enabled = false
	base, _ := startServe(t, cfg)
	out, _, err := run(t, "bench", "--url", base, "--op", "list", "--users", "1", "--tasks", "5",
		"--concurrency", "2", "--rate", "100", "--duration", "1s", "--warmup", "0s",
		"--sample", "250ms", "--pid", strconv.Itoa(os.Getpid()), "--json")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.HTTP == nil {
		t.Fatalf("output: %v\n%s", err, out)
	}
	r := res.HTTP
	ol := r.OpenLoop
	if ol == nil || ol.Rate != 100 || ol.Offered < 95 || ol.Offered > 101 || ol.Started+ol.Dropped != ol.Offered ||
		r.Total.Requests != ol.Started || r.Total.Errors != 0 {
		t.Fatalf("open loop %+v, total %+v", ol, r.Total)
	}
	if n := len(r.Samples); n < 3 || n > 5 || r.Samples[n-1].Requests != r.Total.Requests || r.Samples[0].RSS == 0 {
		t.Fatalf("samples %+v", r.Samples)
	}
}
