package pgbus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/realtime/pgbus"
)

type received struct {
	payloads chan string
	ready    chan struct{}
}

func run(t *testing.T, b *pgbus.Bus) *received {
	t.Helper()
	r := &received{payloads: make(chan string, 4096)}
	r.ready = listen(t, b, func(p []byte) { r.payloads <- string(p) })
	r.waitReady(t)
	return r
}

// listen runs b's listener until the test ends; the returned channel learns
// of each time it starts listening (the first time, and after reconnects).
func listen(tb testing.TB, b *pgbus.Bus, deliver func([]byte)) chan struct{} {
	tb.Helper()
	ready := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx, deliver, func() {
			select {
			case ready <- struct{}{}:
			default:
			}
		})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			tb.Error("Run did not return after its context ended")
		}
	})
	return ready
}

func (r *received) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-r.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("bus not listening within 10s")
	}
}

func (r *received) next(t *testing.T) string {
	t.Helper()
	select {
	case p := <-r.payloads:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5s")
		return ""
	}
}

func TestBusDeliversToEveryListenerInOrder(t *testing.T) {
	db := dbtest.Open(t, database.Postgres)
	a, b := pgbus.New(db.Write, pgbus.Options{}), pgbus.New(db.Write, pgbus.Options{})
	ra, rb := run(t, a), run(t, b)
	ctx := context.Background()
	for i := range 20 {
		bus := a
		if i%2 == 1 {
			bus = b
		}
		if err := bus.Publish(ctx, fmt.Appendf(nil, "event %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*received{ra, rb} {
		for i := range 20 {
			if got := r.next(t); got != fmt.Sprintf("event %d", i) {
				t.Fatalf("got %q, want event %d", got, i)
			}
		}
	}
	// The limit is PostgreSQL's own.
	if err := a.Publish(ctx, []byte(strings.Repeat("x", a.MaxPayload()))); err != nil {
		t.Errorf("a payload of MaxPayload bytes: %v", err)
	}
	if err := a.Publish(ctx, []byte(strings.Repeat("x", a.MaxPayload()+1))); err == nil {
		t.Error("a payload over MaxPayload was accepted")
	}
}

// A listener whose connection dies (as in a database restart) reconnects,
// says so, and receives again.
func TestBusReconnects(t *testing.T) {
	db := dbtest.Open(t, database.Postgres)
	b := pgbus.New(db.Write, pgbus.Options{PingInterval: 200 * time.Millisecond, PingTimeout: time.Second})
	r := run(t, b)
	ctx := context.Background()

	res, err := db.Write.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("terminated %d listener connections, want 1", n)
	}
	r.waitReady(t)
	if err := b.Publish(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got != "after" {
		t.Fatalf("got %q", got)
	}
}
