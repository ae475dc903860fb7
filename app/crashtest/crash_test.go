// Package crashtest checks that `todo serve` loses no acknowledged write and
// leaves no half-written one when it is killed mid-write, on SQLite and on
// PostgreSQL.
//
// TestCrashSafety runs `todo serve` as a subprocess, drives write load through
// the HTTP API from several clients, kills the server with SIGKILL at a random
// moment, restarts it on the same database and checks every write the server
// acknowledged, then does it again. See docs/reliability.md for what that
// proves and what it does not (an OS crash or power loss is not simulated).
//
// The default run (10 kills of 200-700 ms of load per engine) fits in CI;
// TODOTEST_CRASH_LONG=1 runs 50 kills of 0.5-3 s each with more clients.
// TODOTEST_CRASH_SEED fixes the random kill schedule and write mix.
package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/todo-app/todo/app/server/servertest"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/todo-app/todo/app/backup"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
)

// Environment variables that change the run.
const (
	LongEnv = "TODOTEST_CRASH_LONG"
	SeedEnv = "TODOTEST_CRASH_SEED"
)

// settings is the shape of one run.
type settings struct {
	kills            int
	minLoad, maxLoad time.Duration
	users, workers   int // workers per user
}

func currentSettings() settings {
	if os.Getenv(LongEnv) == "1" {
		return settings{kills: 50, minLoad: 500 * time.Millisecond, maxLoad: 3 * time.Second, users: 4, workers: 3}
	}
	return settings{kills: 10, minLoad: 200 * time.Millisecond, maxLoad: 700 * time.Millisecond, users: 3, workers: 2}
}

func seed(t *testing.T) uint64 {
	if s := os.Getenv(SeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

func TestCrashSafety(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the server and kills it repeatedly; skipped with -short")
	}
	servertest.TodoBinary(t) // build before the clock starts, and once for both engines
	cfg := currentSettings()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			crashRun(t, d, cfg, seed(t))
		})
	}
}

func crashRun(t *testing.T, d database.Dialect, cfg settings, seed uint64) {
	dbURL := dbtest.NewURL(t, d)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t.Logf("%s: %d kills, %s-%s of load each, %d users x %d clients; %s=%d reproduces the schedule",
		d, cfg.kills, cfg.minLoad, cfg.maxLoad, cfg.users, cfg.workers, SeedEnv, seed)
	began := time.Now()

	srv := newServer(t, dbURL)
	srv.start()
	if d == database.SQLite {
		// restore's guard against a running server must see this one, in
		// another process.
		path := sqlitePath(t, dbURL)
		if busy, err := backup.InUse(context.Background(), path); err != nil || !busy {
			t.Errorf("backup.InUse(%s) = %v, %v with todo serve running; want true", path, busy, err)
		}
	}

	led := newLedger()
	for u := range cfg.users {
		led.signUp(t, srv.base, u)
	}

	var stats runStats
	for kill := 1; kill <= cfg.kills; kill++ {
		load := cfg.minLoad + time.Duration(rng.Int64N(int64(cfg.maxLoad-cfg.minLoad)+1))
		before := led.ackedWrites()
		ctx, cancel := context.WithCancel(context.Background())
		done := led.startLoad(ctx, t, srv.base, cfg.workers, rng.Uint64())
		time.Sleep(load)
		if !srv.alive() {
			cancel()
			<-done
			t.Fatalf("kill %d: todo serve exited on its own", kill)
		}
		srv.kill()
		cancel()
		<-done
		if led.failed() {
			t.Fatalf("kill %d: the load saw wrong answers (above)", kill)
		}
		stats.rounds = append(stats.rounds, led.ackedWrites()-before)

		base := ""
		if kill < cfg.kills {
			srv.start()
			base = srv.base
		}
		// After the last kill the test opens the database itself (with
		// database.Open, which recovers a SQLite WAL), as an administrator
		// would after a crash; before, the restarted server has done so.
		problems, err := led.verify(d, dbURL, base, &stats)
		if err != nil {
			t.Fatalf("kill %d: verify: %v", kill, err)
		}
		for i, p := range problems {
			if i == 20 {
				t.Errorf("... and %d more", len(problems)-i)
				break
			}
			t.Error(p)
		}
		if len(problems) > 0 {
			t.Fatalf("kill %d of %d: acknowledged writes were lost or rows were left inconsistent (above)", kill, cfg.kills)
		}
	}
	if d == database.SQLite {
		path := sqlitePath(t, dbURL)
		if busy, err := backup.InUse(context.Background(), path); err != nil || busy {
			t.Errorf("backup.InUse(%s) = %v, %v after the server was killed; want false", path, busy, err)
		}
	}

	c := led.counts()
	t.Logf("%s: %d kills in %s; %d acknowledged writes checked (%d creates, %d updates, %d deletes; per kill %v), "+
		"%d task rows at the end; %d writes were cut off by a kill (%d of them found committed, all whole); %d verifications, %d row checks",
		d, cfg.kills, time.Since(began).Round(time.Millisecond), c.creates+c.updates+c.deletes, c.creates, c.updates, c.deletes,
		stats.rounds, stats.lastRows, c.cutOff, stats.unackedCommitted, stats.verifications, stats.rowChecks)
	if c.creates+c.updates == 0 {
		t.Fatal("no write was acknowledged: the load did not run")
	}
}

type runStats struct {
	rounds           []int
	verifications    int
	rowChecks        int
	unackedCommitted int
	lastRows         int
}

func sqlitePath(t *testing.T, dbURL string) string {
	t.Helper()
	_, path, err := database.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// pretty renders v for failure messages.
func pretty(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
