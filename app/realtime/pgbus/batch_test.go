package pgbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/realtime/pgbus"
)

// gate holds a bus's sender: each notification is reported on sent, then
// waits for a value on proceed, or for proceed to be closed.
type gate struct {
	sent    chan string
	proceed chan struct{}
}

func hold(b *pgbus.Bus) *gate {
	g := &gate{sent: make(chan string, 64), proceed: make(chan struct{})}
	pgbus.WrapNotify(b, func(next pgbus.NotifyFunc) pgbus.NotifyFunc {
		return func(ctx context.Context, payload string) error {
			g.sent <- payload
			<-g.proceed
			return next(ctx, payload)
		}
	})
	return g
}

func (g *gate) next(t *testing.T) string {
	t.Helper()
	select {
	case p := <-g.sent:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no notification sent within 5s")
		return ""
	}
}

func publishAsync(ctx context.Context, b *pgbus.Bus, payload string) <-chan error {
	res := make(chan error, 1)
	go func() { res <- b.Publish(ctx, []byte(payload)) }()
	return res
}

func result(t *testing.T, res <-chan error) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Publish did not return within 5s")
		return nil
	}
}

// waitQueued waits until n payloads wait for b's (held) sender, so that the
// order they were queued in is known.
func waitQueued(t *testing.T, b *pgbus.Bus, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); pgbus.Queued(b) != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d payloads queued, want %d", pgbus.Queued(b), n)
		}
	}
}

func TestPublishManyConcurrently(t *testing.T) {
	db := dbtest.Open(t, database.Postgres)
	b := pgbus.New(db.Write, pgbus.Options{Channel: "test_many"})
	var notifications atomic.Int64
	pgbus.WrapNotify(b, func(next pgbus.NotifyFunc) pgbus.NotifyFunc {
		return func(ctx context.Context, payload string) error {
			notifications.Add(1)
			if len(payload) > pgbus.MaxPayload {
				t.Errorf("a notification of %d bytes", len(payload))
			}
			return next(ctx, payload)
		}
	})
	r := run(t, b)
	ctx := context.Background()

	const publishers, each = 64, 50
	var wg sync.WaitGroup
	for g := range publishers {
		wg.Go(func() {
			for i := range each {
				if err := b.Publish(ctx, fmt.Appendf(nil, `{"g":%d,"i":%d}`, g, i)); err != nil {
					t.Errorf("publisher %d, event %d: %v", g, i, err)
					return
				}
			}
		})
	}
	next := make([]int, publishers)
	for range publishers * each {
		p := r.next(t)
		var e struct{ G, I int }
		if err := json.Unmarshal([]byte(p), &e); err != nil {
			t.Fatalf("received %q: %v", p, err)
		}
		if e.I != next[e.G] {
			t.Fatalf("publisher %d: received event %d, want %d", e.G, e.I, next[e.G])
		}
		next[e.G]++
	}
	wg.Wait()
	// Had anything been delivered twice, it would come before this.
	if err := b.Publish(ctx, []byte("last")); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got != "last" {
		t.Fatalf("received %q after every event, want last", got)
	}
	t.Logf("%d events in %d notifications", publishers*each, notifications.Load()-1)
}

func TestPublishBatchesWithinMaxPayload(t *testing.T) {
	db := dbtest.Open(t, database.Postgres)
	ctx := context.Background()
	for i, tc := range []struct {
		name  string
		sizes []int
		// batches is how many of the payloads, in order, each
		// notification carries.
		batches []int
	}{
		{"three of 3000 bytes", []int{3000, 3000, 3000}, []int{2, 1}},
		{"two filling one exactly", []int{3999, 3999}, []int{2}},
		{"two one byte too large", []int{4000, 3999}, []int{1, 1}},
		{"at the limit, each alone", []int{pgbus.MaxPayload, 1, pgbus.MaxPayload}, []int{1, 1, 1}},
		{"small ones together", []int{100, 100, 100, 100, 100, 100, 100, 100, 100, 100}, []int{10}},
		{"empty ones together", []int{0, 0}, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := pgbus.New(db.Write, pgbus.Options{Channel: fmt.Sprintf("test_size_%d", i)})
			g := hold(b)
			r := run(t, b)

			blocker := publishAsync(ctx, b, "blocker")
			if got := g.next(t); got != "blocker" {
				t.Fatalf("first notification %q", got)
			}
			payloads := make([]string, len(tc.sizes))
			results := make([]<-chan error, len(tc.sizes))
			for j, size := range tc.sizes {
				payloads[j] = strings.Repeat(string(rune('a'+j)), size)
				results[j] = publishAsync(ctx, b, payloads[j])
				waitQueued(t, b, j+1)
			}
			close(g.proceed)
			for _, res := range append(results, blocker) {
				if err := result(t, res); err != nil {
					t.Fatal(err)
				}
			}

			rest := payloads
			for k, n := range tc.batches {
				got := g.next(t)
				if want := strings.Join(rest[:n], "\n"); got != want {
					t.Fatalf("notification %d: %d bytes, want %d payloads in %d bytes", k, len(got), n, len(want))
				}
				if len(got) > pgbus.MaxPayload {
					t.Fatalf("notification %d: %d bytes", k, len(got))
				}
				rest = rest[n:]
			}
			// Every Publish has returned, so every notification was sent.
			select {
			case p := <-g.sent:
				t.Fatalf("an extra notification of %d bytes", len(p))
			default:
			}

			for j, want := range append([]string{"blocker"}, payloads...) {
				if got := r.next(t); got != want {
					t.Fatalf("received %d: %d bytes, want %d", j, len(got), len(want))
				}
			}
		})
	}
}

func TestPublishCancelled(t *testing.T) {
	db := dbtest.Open(t, database.Postgres)
	bg := context.Background()

	t.Run("before publishing", func(t *testing.T) {
		b := pgbus.New(db.Write, pgbus.Options{Channel: "test_cancel_before"})
		r := run(t, b)
		ctx, cancel := context.WithCancel(bg)
		cancel()
		if err := b.Publish(ctx, []byte("cancelled")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Publish: %v, want %v", err, context.Canceled)
		}
		if err := b.Publish(bg, []byte("after")); err != nil {
			t.Fatal(err)
		}
		if got := r.next(t); got != "after" {
			t.Fatalf("received %q, want after", got)
		}
	})

	t.Run("while queued", func(t *testing.T) {
		b := pgbus.New(db.Write, pgbus.Options{Channel: "test_cancel_queued"})
		g := hold(b)
		r := run(t, b)
		blocker := publishAsync(bg, b, "blocker")
		g.next(t)
		ctx, cancel := context.WithCancel(bg)
		cancelled := publishAsync(ctx, b, "cancelled")
		waitQueued(t, b, 1)
		cancel()
		// The sender is held, so the payload cannot have been taken.
		if err := result(t, cancelled); !errors.Is(err, context.Canceled) {
			t.Fatalf("Publish: %v, want %v", err, context.Canceled)
		}
		close(g.proceed)
		if err := result(t, blocker); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(bg, []byte("after")); err != nil {
			t.Fatal(err)
		}
		if got := g.next(t); got != "after" {
			t.Fatalf("sent %q, want after", got)
		}
		for _, want := range []string{"blocker", "after"} {
			if got := r.next(t); got != want {
				t.Fatalf("received %q, want %q", got, want)
			}
		}
	})

	// Once in a notification, an event is answered with its outcome, and a
	// caller giving up does not abort the notification for the others.
	t.Run("after being taken", func(t *testing.T) {
		b := pgbus.New(db.Write, pgbus.Options{Channel: "test_cancel_taken"})
		g := hold(b)
		r := run(t, b)
		blocker := publishAsync(bg, b, "blocker")
		g.next(t)
		ctx, cancel := context.WithCancel(bg)
		a := publishAsync(ctx, b, "a")
		waitQueued(t, b, 1)
		c := publishAsync(bg, b, "c")
		waitQueued(t, b, 2)
		g.proceed <- struct{}{}
		if got := g.next(t); got != "a\nc" {
			t.Fatalf("sent %q, want a and c together", got)
		}
		cancel()
		close(g.proceed)
		for _, res := range []<-chan error{blocker, a, c} {
			if err := result(t, res); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []string{"blocker", "a", "c"} {
			if got := r.next(t); got != want {
				t.Fatalf("received %q, want %q", got, want)
			}
		}
	})
}

func TestPublishRejects(t *testing.T) {
	db := dbtest.Open(t, database.Postgres)
	b := pgbus.New(db.Write, pgbus.Options{Channel: "test_rejects"})
	r := run(t, b)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		payload string
		want    error // nil: any error
	}{
		{"a newline inside", `{"k":"event"}` + "\n" + `{"k":"event"}`, pgbus.ErrNewline},
		{"a trailing newline", `{"k":"event"}` + "\n", pgbus.ErrNewline},
		{"only a newline", "\n", pgbus.ErrNewline},
		{"over MaxPayload", strings.Repeat("x", pgbus.MaxPayload+1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Publish(ctx, []byte(tc.payload))
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Publish: %v, want %v", err, tc.want)
			}
		})
	}
	if err := b.Publish(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got != "after" {
		t.Fatalf("received %q, want after", got)
	}
}
