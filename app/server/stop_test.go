package server_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
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
	if logger.busy.Load() != 0 {
		t.Fatal("Stop returned while the session watcher was still inside a poll")
	}
}

// slowWarnings discards records, taking delay over each warning; busy
// counts the warnings being written.
type slowWarnings struct {
	once    sync.Once
	entered chan struct{}
	delay   time.Duration
	busy    atomic.Int32
}

func (h *slowWarnings) Enabled(context.Context, slog.Level) bool { return true }
func (h *slowWarnings) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *slowWarnings) WithGroup(string) slog.Handler            { return h }
func (h *slowWarnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.busy.Add(1)
		defer h.busy.Add(-1)
		h.once.Do(func() { close(h.entered) })
		time.Sleep(h.delay)
	}
	return nil
}
