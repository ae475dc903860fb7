package routes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/server/servertest"
)

// rlLimits turns rate limiting on with small budgets: 5 requests per
// window per user or anonymous address, 3 sign-up/sign-in attempts per
// address. trustProxy makes the test client (127.0.0.1) a trusted proxy so
// X-Forwarded-For can stand for different clients.
func rlLimits(trustProxy bool) func(*config.Config) {
	return func(cfg *config.Config) {
		cfg.RateLimit.Enabled = true
		cfg.RateLimit.PerMinute = 5
		cfg.RateLimit.AuthPerMinute = 3
		if trustProxy {
			cfg.Server.TrustedProxies = []string{"127.0.0.1"}
		}
	}
}

// rlEachEngine is eachEngine with a configuration change.
func rlEachEngine(t *testing.T, mutate func(*config.Config), fn func(t *testing.T, srv *servertest.Server)) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, servertest.Start(t, d, mutate))
		})
	}
}

var rlUsers atomic.Int64

// rlSignUp creates an account (from the forwarded address from, when set)
// and returns its email and a Bearer-only client for it.
func rlSignUp(t *testing.T, srv *servertest.Server, from string) (string, *servertest.Client) {
	t.Helper()
	email := fmt.Sprintf("ratelimit%d@example.com", rlUsers.Add(1))
	r := srv.Client(t).Request("POST", "/api/auth/signup",
		map[string]string{"name": "Rate Limit", "email": email, "password": "correct horse"}, rlFrom(from))
	if r.Status != http.StatusCreated {
		t.Fatalf("sign up: %d %s", r.Status, r.Body)
	}
	c := srv.Client(t)
	c.Origin, c.Bearer = "", r.JSON()["token"].(string)
	return email, c
}

// rlFrom sends the request as forwarded for ip (ignored unless the peer is trusted).
func rlFrom(ip string) map[string]string {
	if ip == "" {
		return nil
	}
	return map[string]string{"X-Forwarded-For": ip}
}

// rlHeaders returns the RateLimit-* values, failing when any is missing or
// when Fiber's X-RateLimit-* names leaked through.
func rlHeaders(t *testing.T, r *servertest.Response) (limit, remaining, reset int) {
	t.Helper()
	var err error
	get := func(name string) int {
		n, e := strconv.Atoi(r.Header.Get(name))
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %q", name, r.Header.Get(name))
		}
		return n
	}
	limit, remaining, reset = get("RateLimit-Limit"), get("RateLimit-Remaining"), get("RateLimit-Reset")
	if err != nil {
		t.Fatalf("status %d: %v (headers %v)", r.Status, err, r.Header)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if v := r.Header.Get(h); v != "" {
			t.Errorf("status %d: %s: %s leaked", r.Status, h, v)
		}
	}
	if reset < 1 || reset > 60 {
		t.Errorf("status %d: RateLimit-Reset %d", r.Status, reset)
	}
	return limit, remaining, reset
}

// rlWant429 checks a refusal: a problem with Retry-After and the headers of
// the exhausted limit.
func rlWant429(t *testing.T, r *servertest.Response, limit int) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil || p.Status != 429 || p.Title != "Too Many Requests" || p.Type == "" || p.Detail == "" {
		t.Errorf("problem = %s (%v)", r.Body, err)
	}
	l, remaining, reset := rlHeaders(t, r)
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 || retry != reset {
		t.Errorf("Retry-After %q, RateLimit-Reset %d", r.Header.Get("Retry-After"), reset)
	}
	if l != limit || remaining != 0 {
		t.Errorf("429: RateLimit-Limit %d Remaining %d, want %d and 0", l, remaining, limit)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Error("429 without X-Request-ID")
	}
}

func TestRateLimitAnonymous(t *testing.T) {
	rlEachEngine(t, rlLimits(false), func(t *testing.T, srv *servertest.Server) {
		c := srv.Client(t)
		// Successes and errors alike carry the headers and count.
		steps := []struct {
			method, path string
			body         any
			status       int
		}{
			{"GET", "/api/auth/session", nil, 200},
			{"GET", "/api/no-such-thing", nil, 404},
			{"POST", "/api/auth/refresh", nil, 401},
			{"POST", "/api/auth/login", map[string]string{}, 422},
			{"GET", "/API/auth/session/", nil, 200},
		}
		for i, s := range steps {
			r := c.Request(s.method, s.path, s.body, nil)
			if r.Status != s.status {
				t.Fatalf("%s %s: %d %s", s.method, s.path, r.Status, r.Body)
			}
			limit, remaining, _ := rlHeaders(t, r)
			if limit != 5 || remaining != 4-i {
				t.Errorf("%s %s: RateLimit-Limit %d Remaining %d, want 5 and %d", s.method, s.path, limit, remaining, 4-i)
			}
		}
		rlWant429(t, c.Request("GET", "/api/auth/session", nil, nil), 5)
		rlWant429(t, c.Request("GET", "/api/no-such-thing", nil, nil), 5)

		// /health and paths outside /api are never limited.
		for range 8 {
			r := c.Request("GET", "/health", nil, nil)
			if r.Status != 200 || r.Header.Get("RateLimit-Limit") != "" || r.Header.Get("Retry-After") != "" {
				t.Fatalf("/health: %d %v", r.Status, r.Header)
			}
		}
		// The web app answers every other path (its index.html).
		r := c.Request("GET", "/elsewhere", nil, nil)
		if r.Status != 200 || r.Header.Get("RateLimit-Limit") != "" {
			t.Errorf("/elsewhere: %d %v", r.Status, r.Header)
		}
	})
}

func TestRateLimitPerUser(t *testing.T) {
	srv := servertest.Start(t, database.SQLite, rlLimits(true))
	_, a := rlSignUp(t, srv, "192.0.2.1")
	_, b := rlSignUp(t, srv, "192.0.2.2")

	// A's budget is A's alone, whichever address A comes from, and it is
	// not the budget of the address A's requests come from.
	for i := range 5 {
		r := a.Request("GET", "/api/auth/session", nil, rlFrom([]string{"198.51.100.1", "198.51.100.2"}[i%2]))
		if r.Status != 200 || r.JSON()["user"] == nil {
			t.Fatalf("A request %d: %d %s", i, r.Status, r.Body)
		}
		if _, remaining, _ := rlHeaders(t, r); remaining != 4-i {
			t.Errorf("A request %d: Remaining %d", i, remaining)
		}
	}
	rlWant429(t, a.Request("GET", "/api/auth/session", nil, rlFrom("198.51.100.1")), 5)
	rlWant429(t, a.Request("GET", "/api/auth/session", nil, rlFrom("198.51.100.2")), 5)
	rlWant429(t, a.Request("GET", "/api/auth/session", nil, rlFrom("198.51.100.3")), 5)

	// B, from one of the same addresses, has a full budget.
	r := b.Request("GET", "/api/auth/session", nil, rlFrom("198.51.100.1"))
	if r.Status != 200 {
		t.Fatalf("B: %d %s", r.Status, r.Body)
	}
	if limit, remaining, _ := rlHeaders(t, r); limit != 5 || remaining != 4 {
		t.Errorf("B: Limit %d Remaining %d", limit, remaining)
	}
	// So does an anonymous client at that address.
	anon := srv.Client(t)
	r = anon.Request("GET", "/api/auth/session", nil, rlFrom("198.51.100.1"))
	if _, remaining, _ := rlHeaders(t, r); r.Status != 200 || remaining != 4 {
		t.Errorf("anonymous: %d Remaining %d", r.Status, remaining)
	}
}

func TestRateLimitAuthFlood(t *testing.T) {
	srv := servertest.Start(t, database.SQLite, rlLimits(true))
	email, _ := rlSignUp(t, srv, "192.0.2.10")
	attacker := srv.Client(t)
	const from = "203.0.113.5"
	wrong := map[string]string{"email": email, "password": "wrong password"}
	for i := range 3 {
		r := attacker.Request("POST", "/api/auth/login", wrong, rlFrom(from))
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
		}
		// The auth budget (3) has fewer left than the general one (5).
		if limit, remaining, _ := rlHeaders(t, r); limit != 3 || remaining != 2-i {
			t.Errorf("attempt %d: Limit %d Remaining %d, want 3 and %d", i, limit, remaining, 2-i)
		}
	}
	// The fourth attempt hits the auth limit, even with the right password,
	// and the Better Auth sign-in shares the bucket.
	right := map[string]string{"email": email, "password": "correct horse"}
	rlWant429(t, attacker.Request("POST", "/api/auth/login", right, rlFrom(from)), 3)
	r := attacker.Request("POST", "/api/auth/sign-in/email", right, rlFrom(from))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("sign-in/email: %d %v", r.Status, r.Header)
	}
	// Refused requests still counted against the general budget (5), which
	// is now spent too.
	rlWant429(t, attacker.Request("GET", "/api/auth/session", nil, rlFrom(from)), 5)

	// Another address can still sign in.
	r = srv.Client(t).Request("POST", "/api/auth/login", right, rlFrom("203.0.113.6"))
	if r.Status != http.StatusOK {
		t.Fatalf("login from another address: %d %s", r.Status, r.Body)
	}
	if limit, remaining, _ := rlHeaders(t, r); limit != 3 || remaining != 2 {
		t.Errorf("other address: Limit %d Remaining %d", limit, remaining)
	}
}

func TestRateLimitAuthPaths(t *testing.T) {
	srv := servertest.Start(t, database.SQLite, rlLimits(true))
	c := srv.Client(t)
	for i, p := range []string{"/api/auth/signup", "/api/auth/login", "/api/auth/sign-up/email", "/api/auth/sign-in/email"} {
		r := c.Request("POST", p, map[string]string{}, rlFrom(fmt.Sprintf("203.0.113.%d", 20+i)))
		if limit, remaining, _ := rlHeaders(t, r); limit != 3 || remaining != 2 {
			t.Errorf("POST %s: %d Limit %d Remaining %d, want the auth budget", p, r.Status, limit, remaining)
		}
	}
	// Other auth endpoints count against the general budget only.
	for i, p := range []string{"/api/auth/logout", "/api/auth/refresh", "/api/auth/sign-out"} {
		r := c.Request("POST", p, nil, rlFrom(fmt.Sprintf("203.0.113.%d", 30+i)))
		if limit, remaining, _ := rlHeaders(t, r); limit != 5 || remaining != 4 {
			t.Errorf("POST %s: %d Limit %d Remaining %d, want the general budget", p, r.Status, limit, remaining)
		}
	}
}

func TestRateLimitGeneralBeforeAuth(t *testing.T) {
	// With the general budget the smaller, sign-in reports and hits it.
	srv := servertest.Start(t, database.SQLite, func(cfg *config.Config) {
		cfg.RateLimit.Enabled = true
		cfg.RateLimit.PerMinute = 2
		cfg.RateLimit.AuthPerMinute = 10
	})
	c := srv.Client(t)
	wrong := map[string]string{"email": "nobody@example.com", "password": "wrong password"}
	r := c.Request("POST", "/api/auth/sign-in/email", wrong, nil)
	if limit, remaining, _ := rlHeaders(t, r); r.Status != 401 || limit != 2 || remaining != 1 {
		t.Errorf("%d: Limit %d Remaining %d", r.Status, limit, remaining)
	}
	c.Request("POST", "/api/auth/sign-in/email", wrong, nil)
	rlWant429(t, c.Request("POST", "/api/auth/sign-in/email", wrong, nil), 2)
}

func TestRateLimitForwardedFor(t *testing.T) {
	t.Run("untrusted peer", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, database.SQLite, rlLimits(false))
		c := srv.Client(t)
		for i := range 5 {
			r := c.Request("GET", "/api/auth/session", nil, rlFrom(fmt.Sprintf("198.51.100.%d", i+1)))
			if r.Status != 200 {
				t.Fatalf("request %d: %d", i, r.Status)
			}
		}
		// Rotating the header does not buy a new budget.
		rlWant429(t, c.Request("GET", "/api/auth/session", nil, rlFrom("198.51.100.77")), 5)
		rlWant429(t, c.Request("GET", "/api/auth/session", nil, nil), 5)
	})
	t.Run("trusted proxy", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, database.SQLite, rlLimits(true))
		c := srv.Client(t)
		for i := range 5 {
			if r := c.Request("GET", "/api/auth/session", nil, rlFrom("198.51.100.1")); r.Status != 200 {
				t.Fatalf("request %d: %d", i, r.Status)
			}
		}
		rlWant429(t, c.Request("GET", "/api/auth/session", nil, rlFrom("198.51.100.1")), 5)
		// A forged hop to the left of the real client changes nothing.
		rlWant429(t, c.Request("GET", "/api/auth/session", nil, rlFrom("10.9.9.9, 198.51.100.1")), 5)
		// Each forwarded client has a budget of its own, and so has the
		// proxy itself.
		for _, h := range []map[string]string{rlFrom("198.51.100.2"), rlFrom("198.51.100.1, 198.51.100.3"), nil} {
			r := c.Request("GET", "/api/auth/session", nil, h)
			if limit, remaining, _ := rlHeaders(t, r); r.Status != 200 || limit != 5 || remaining != 4 {
				t.Errorf("%v: %d Limit %d Remaining %d", h, r.Status, limit, remaining)
			}
		}
		// IPv6 clients are counted per /64.
		for i := range 5 {
			if r := c.Request("GET", "/api/auth/session", nil, rlFrom(fmt.Sprintf("2001:db8:1:2::%x", i+1))); r.Status != 200 {
				t.Fatalf("IPv6 request %d: %d", i, r.Status)
			}
		}
		rlWant429(t, c.Request("GET", "/api/auth/session", nil, rlFrom("2001:db8:1:2:abcd::1")), 5)
		if r := c.Request("GET", "/api/auth/session", nil, rlFrom("2001:db8:1:3::1")); r.Status != 200 {
			t.Errorf("next /64: %d", r.Status)
		}
	})
}

func TestRateLimitDisabled(t *testing.T) {
	srv := servertest.Start(t, database.SQLite, func(cfg *config.Config) {
		cfg.RateLimit.Enabled = false
		cfg.RateLimit.PerMinute = 1
		cfg.RateLimit.AuthPerMinute = 1
	})
	c := srv.Client(t)
	for i := range 6 {
		for _, r := range []*servertest.Response{
			c.Request("GET", "/api/auth/session", nil, nil),
			c.Request("POST", "/api/auth/login", map[string]string{"email": "nobody@example.com", "password": "wrong password"}, nil),
		} {
			if r.Status == http.StatusTooManyRequests {
				t.Fatalf("request %d limited", i)
			}
			for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "X-RateLimit-Limit", "Retry-After"} {
				if v := r.Header.Get(h); v != "" {
					t.Fatalf("request %d: %s: %s", i, h, v)
				}
			}
		}
	}
}
