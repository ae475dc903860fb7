package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
)

// run executes the todo command line in-process with args and returns what
// it printed and its error.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := NewRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	// A config file that sets nothing keeps the tests independent of any
	// config.yaml in the working directory.
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	root.SetArgs(append(args, "--config", empty))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "todo dev\ncommit: ") {
		t.Fatalf("version: %q, %v", out, err)
	}
	out, _, err = run(t, "version", "--json")
	var info map[string]string
	if err != nil || json.Unmarshal([]byte(out), &info) != nil || info["version"] != "dev" {
		t.Fatalf("version --json: %q, %v", out, err)
	}
}

func TestMigrateCommands(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		steps := []struct {
			args    []string
			want    []string
			wantErr string
		}{
			{args: []string{"migrate", "status"}, want: []string{"pending  -", "20261125000001_better_auth", "20261125000002_tasks", "20261203000003_auth_changes", "20261203000004_task_due_sort", "20261203000005_stats_covering_indexes", "20261204000006_task_counts", "20261204000007_task_counts_per_insert"}},
			{args: []string{"migrate", "up"}, want: []string{"applied   20261125000001_better_auth", "applied   20261125000002_tasks", "applied   20261204000006_task_counts", "applied   20261204000007_task_counts_per_insert"}},
			{args: []string{"migrate", "up"}, want: []string{"nothing to apply"}},
			{args: []string{"migrate", "status"}, want: []string{"applied  20", "_task_counts_per_insert"}},
			{args: []string{"migrate", "down"}, want: []string{"rolled back 20261204000007_task_counts_per_insert"}},
			{args: []string{"migrate", "down", "7"}, wantErr: "roll back 7 migrations"},
			{args: []string{"migrate", "down", "zero"}, wantErr: "whole number"},
			{args: []string{"migrate", "down", "0"}, wantErr: "whole number"},
			{args: []string{"migrate", "up"}, want: []string{"applied   20261204000007_task_counts_per_insert"}},
		}
		for _, s := range steps {
			out, _, err := run(t, append(s.args, "--database-url", url)...)
			if s.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), s.wantErr) {
					t.Fatalf("%v: error %v, want %q", s.args, err, s.wantErr)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%v: %v", s.args, err)
			}
			for _, w := range s.want {
				if !strings.Contains(out, w) {
					t.Errorf("%v: output lacks %q:\n%s", s.args, w, out)
				}
			}
		}
	})
}

func TestMigrateUnreachableDatabase(t *testing.T) {
	t.Parallel()
	_, _, err := run(t, "migrate", "status", "--database-url", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("error = %v, want unreachable", err)
	}
}

func TestConfigErrorsStopCommands(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("server:\n  adress: \":9000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := NewRoot()
	root.SetOut(&bytes.Buffer{})
	root.SetArgs([]string{"serve", "--config", bad})
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "server.adress") {
		t.Fatalf("error = %v, want it to name server.adress", err)
	}
}

// testConfig is the defaults with a database of the given engine and a
// port chosen by the system.
func testConfig(t *testing.T, url string) *config.Config {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{File: empty, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database.URL = url
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Log.Level = "error"
	if strings.HasPrefix(url, "postgres") {
		cfg.Auth.Secret = "a-test-secret-that-is-long-enough-0123456789"
	}
	return cfg
}

// startServe runs `todo serve` in-process and returns its base URL and a
// function that stops it and returns serve's error.
func startServe(t *testing.T, cfg *config.Config) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		var once sync.Once
		var serveErr error
		stop := func() error {
			once.Do(func() { cancel(); serveErr = <-done })
			return serveErr
		}
		t.Cleanup(func() { _ = stop() })
		return "http://" + a.String(), stop
	case err := <-done:
		cancel()
		t.Fatalf("serve stopped before listening: %v", err)
		return "", nil
	}
}

func TestServeAndHealthCommand(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		cfg := testConfig(t, url)
		base, stop := startServe(t, cfg)

		out, _, err := run(t, "health", "--url", base)
		if err != nil || !strings.Contains(out, "healthy") {
			t.Fatalf("health: %q, %v", out, err)
		}
		out, _, err = run(t, "migrate", "status", "--database-url", url)
		if err != nil || strings.Contains(out, "pending") {
			t.Fatalf("serve should have applied every migration: %q, %v", out, err)
		}
		if err := stop(); err != nil {
			t.Fatalf("serve returned %v after a clean stop", err)
		}
		_, _, err = run(t, "health", "--url", base, "--timeout", "2s")
		var exit *exitError
		if !errors.As(err, &exit) || exit.code != 1 {
			t.Fatalf("health against a stopped server: %v, want exit 1", err)
		}

		if path, ok := cfg.SQLitePath(); ok {
			for _, f := range []string{path, filepath.Join(filepath.Dir(path), config.SecretFileName)} {
				st, err := os.Stat(f)
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
				}
			}
		}
	})
}

func TestServeRefusesPendingMigrationsWithoutAutoMigrate(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, dbtest.NewURL(t, database.SQLite))
	cfg.Database.AutoMigrate = false
	err := serve(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "todo migrate up") {
		t.Fatalf("serve = %v, want a pending-migrations error", err)
	}
}

func TestServeGivesUpOnUnreachableDatabase(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	cfg.Database.StartupTimeout = time.Second
	start := time.Now()
	err := serve(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("serve = %v, want database unreachable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s; startup_timeout is 1s", d)
	}
}
