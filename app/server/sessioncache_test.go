package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/server"
	"github.com/todo-app/todo/app/server/servertest"
)

// revocationBound is how long a session ended by another process may keep
// working on a server: the change log is polled every
// auth.DefaultSessionPoll; the rest is slack for a loaded test machine.
const revocationBound = 3 * time.Second

// Sessions are cached per server, so these tests end a session in every way
// one can end (on this server, on another one, from the CLI, by another
// program writing the database) after the cache holds it, and require the
// session to stop working at once on the server that ended it, and within
// revocationBound everywhere else.
func TestSessionCacheHonoursRevocation(t *testing.T) {
	type setup struct {
		a, b   *servertest.Instance
		url    string
		userID string
		// onA and onB hold the same session cookie, one per server.
		onA, onB *servertest.Client
	}
	cases := []struct {
		name string
		// end ends the session; immediate says on which server it must
		// stop working without delay (nil: none).
		end       func(t *testing.T, s *setup)
		immediate func(s *setup) *servertest.Client
	}{
		{
			name: "sign-out on this server",
			end: func(t *testing.T, s *setup) {
				old := s.onA.Cookie(auth.SessionTokenCookie)
				mustStatus(t, s.onA.Request("POST", "/api/auth/logout", nil, nil), http.StatusOK)
				// The browser drops the cookie; a stolen copy must be dead.
				s.onA.SetCookie(auth.SessionTokenCookie, old)
			},
			immediate: func(s *setup) *servertest.Client { return s.onA },
		},
		{
			name: "refresh rotation",
			end: func(t *testing.T, s *setup) {
				old := s.onA.Cookie(auth.SessionTokenCookie)
				mustStatus(t, s.onA.Request("POST", "/api/auth/refresh", nil, nil), http.StatusOK)
				// The old cookie is what must stop working.
				s.onA.SetCookie(auth.SessionTokenCookie, old)
			},
			immediate: func(s *setup) *servertest.Client { return s.onA },
		},
		{
			name: "set-password from the CLI",
			end: func(t *testing.T, s *setup) {
				db := dbtest.OpenURL(t, s.url)
				cfg := servertest.Config(t, s.url)
				if err := server.NewAuthService(cfg, db, nil).SetPassword(context.Background(), "cache@example.com", "another password 1"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "user deleted by another program",
			end: func(t *testing.T, s *setup) {
				execElsewhere(t, s.url, `DELETE FROM "user" WHERE "id" = ?`, s.userID)
			},
		},
		{
			name: "session deleted by another program",
			end: func(t *testing.T, s *setup) {
				execElsewhere(t, s.url, `DELETE FROM "session" WHERE "userId" = ?`, s.userID)
			},
		},
	}
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					s := &setup{url: dbtest.NewURL(t, d)}
					s.a = servertest.StartInstance(t, s.url, servertest.InstanceOptions{})
					s.b = servertest.StartInstance(t, s.url, servertest.InstanceOptions{})
					s.onA = s.a.Client(t)
					s.userID = s.onA.SignUp("Cache", "cache@example.com", "a password 1").JSON()["user"].(map[string]any)["id"].(string)
					s.onB = s.b.Client(t)
					s.onB.SetCookie(auth.SessionTokenCookie, s.onA.Cookie(auth.SessionTokenCookie))
					// Twice each, so both caches hold the session.
					for _, c := range []*servertest.Client{s.onA, s.onA, s.onB, s.onB} {
						mustStatus(t, c.Request("GET", "/api/tasks", nil, nil), http.StatusOK)
					}

					tc.end(t, s)
					var now *servertest.Client
					if tc.immediate != nil {
						now = tc.immediate(s)
						mustStatus(t, now.Request("GET", "/api/tasks", nil, nil), http.StatusUnauthorized)
					}
					for _, c := range []*servertest.Client{s.onA, s.onB} {
						if c == now {
							continue
						}
						waited := waitUnauthorized(t, c)
						t.Logf("revoked after %v", waited.Round(time.Millisecond))
					}
				})
			}
		})
	}
}

// TestSessionCacheSeesUserChanges: a user changed by another program (a
// Better Auth app renaming them) is seen within the bound.
func TestSessionCacheSeesUserChanges(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		inst := servertest.StartInstance(t, url, servertest.InstanceOptions{})
		c := inst.Client(t)
		c.SignUp("Before", "rename@example.com", "a password 1")
		mustStatus(t, c.Request("GET", "/api/auth/session", nil, nil), http.StatusOK)
		execElsewhere(t, url, `UPDATE "user" SET "name" = 'After' WHERE "email" = 'rename@example.com'`)
		deadline := time.Now().Add(revocationBound)
		for {
			r := c.Request("GET", "/api/auth/session", nil, nil)
			user, _ := r.JSON()["user"].(map[string]any)
			if user != nil && user["name"] == "After" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("still %d %s after %v", r.Status, r.Body, revocationBound)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// execElsewhere changes the database the way another program would: on a
// connection of its own, behind the servers' backs.
func execElsewhere(t *testing.T, url, query string, args ...any) {
	t.Helper()
	db := dbtest.OpenURL(t, url)
	if _, err := db.Write.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatal(err)
	}
}

func mustStatus(t *testing.T, r *servertest.Response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
}

func waitUnauthorized(t *testing.T, c *servertest.Client) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := c.Request("GET", "/api/tasks", nil, nil)
		if r.Status == http.StatusUnauthorized {
			return time.Since(start)
		}
		if r.Status != http.StatusOK {
			t.Fatalf("status %d while waiting for the revocation: %s", r.Status, r.Body)
		}
		if time.Since(start) > revocationBound {
			t.Fatalf("session still works %v after it ended", revocationBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
