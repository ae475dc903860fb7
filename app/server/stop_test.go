package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/server/servertest"
)

// TestStopEndsTheSessionWatcher: the database is closed right after an
// instance stops, so none of its goroutines may still be using it. A session
// watcher that outlived Stop could open a SQLite connection after the test
// removed the database, recreating the file; CI then failed to remove the
// test's temporary directory ("directory not empty").
//
// The watcher is held inside a poll by a logger that is slow to write the
// warning of a failed poll, so it is busy when Stop is called.
func TestStopEndsTheSessionWatcher(t *testing.T) {
	url := dbtest.NewURL(t, database.SQLite)
	logger := &slowWarnings{entered: make(chan struct{}), delay: 300 * time.Millisecond}
	inst := servertest.StartInstance(t, url, servertest.InstanceOptions{Logger: slog.New(logger)})

	// With its change log gone, every poll fails and the watcher logs why.
	db := dbtest.OpenURL(t, url)
	if _, err := db.Write.ExecContext(context.Background(), "DROP TABLE todo_auth_change"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-logger.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the session watcher never reported a failed poll")
	}

	inst.Stop()
	if stack := allStacks(); strings.Contains(stack, "WatchSessionChanges") {
		t.Fatalf("the session watcher still runs after Stop:\n%s", stack)
	}
}

// slowWarnings discards records, taking delay over each warning.
type slowWarnings struct {
	once    sync.Once
	entered chan struct{}
	delay   time.Duration
}

func (h *slowWarnings) Enabled(context.Context, slog.Level) bool { return true }
func (h *slowWarnings) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *slowWarnings) WithGroup(string) slog.Handler            { return h }
func (h *slowWarnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.once.Do(func() { close(h.entered) })
		time.Sleep(h.delay)
	}
	return nil
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(bytes.TrimSpace(buf[:n]))
		}
		buf = make([]byte, 2*len(buf))
	}
}
