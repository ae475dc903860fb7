package auth_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/migrator"
	"github.com/todo-app/todo/models"
)

// sessionQueries counts the queries that read the session table.
type sessionQueries struct{ n atomic.Int64 }

func (h *sessionQueries) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (h *sessionQueries) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	if strings.Contains(ev.Query, `FROM "session"`) {
		h.n.Add(1)
	}
}

// With the watcher running, a session read once is served from memory; the
// revocation tests (app/server/sessioncache_test.go) would pass without any
// cache, so this one checks that there is one.
func TestSessionCacheServesRepeatedLookups(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.Open(t, d)
			m, err := migrator.New(db)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Up(ctx); err != nil {
				t.Fatal(err)
			}
			hook := &sessionQueries{}
			traced := *db
			traced.Read = db.Read.WithQueryHook(hook)
			svc := auth.NewService(models.NewStore(&traced), auth.Options{
				Secret: strings.Repeat("k", 48), SessionTTL: time.Hour, UpdateAge: time.Hour, SignupEnabled: true,
				Hasher: auth.NewHasher(auth.HasherOptions{BcryptCost: 4}),
			})
			_, sess, err := svc.SignUp(ctx, auth.SignUpInput{Name: "C", Email: "c@example.com", Password: "a password 1", RememberMe: true})
			if err != nil {
				t.Fatal(err)
			}

			lookups := func() int64 {
				before := hook.n.Load()
				for range 5 {
					if _, _, _, err := svc.Authenticate(ctx, sess.Token, false); err != nil {
						t.Fatal(err)
					}
				}
				return hook.n.Load() - before
			}
			if n := lookups(); n != 5 {
				t.Fatalf("without the watcher: %d session queries for 5 lookups, want 5", n)
			}
			// The watcher ends before the database closes (see
			// TestStopEndsTheSessionWatcher in app/server).
			wctx, stop := context.WithCancel(ctx)
			var watcher sync.WaitGroup
			defer watcher.Wait()
			defer stop()
			watcher.Go(func() { svc.WatchSessionChanges(wctx, 10*time.Millisecond, nil, slog.New(slog.DiscardHandler)) })
			deadline := time.Now().Add(5 * time.Second)
			for {
				if n := lookups(); n <= 1 {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("with the watcher: %d session queries for 5 lookups, want at most 1", n)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
