package ratelimit

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/routes"
)

// newApp serves a small /api with the limits mounted as the server mounts
// them; the user and client address come from the X-User and X-IP headers.
func newApp(t *testing.T, o Options) *fiber.App {
	t.Helper()
	app := fiber.New(fiber.Config{ErrorHandler: routes.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)})
	o.UserID = func(c *fiber.Ctx) string { return c.Get("X-User") }
	o.ClientIP = func(c *fiber.Ctx) string { return c.Get("X-IP") }
	api := app.Group("/api")
	New(o).Mount(api)
	mountRoutes(api)
	app.Get("/health", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Use(routes.NotFound)
	return app
}

func mountRoutes(api fiber.Router) {
	api.Get("/ok", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	api.Get("/invalid", func(c *fiber.Ctx) error { return routes.ValidationProblem() })
	api.Post("/auth/login", func(c *fiber.Ctx) error {
		return routes.NewProblem(fiber.StatusUnauthorized, "Invalid email or password.")
	})
	api.Post("/auth/logout", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, app *fiber.App, method, path string, headers map[string]string) result {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: body}
}

func (r result) rate(t *testing.T) (limit, remaining, reset int) {
	t.Helper()
	var err error
	get := func(name string) int {
		if err != nil {
			return 0
		}
		var n int
		n, err = strconv.Atoi(r.header.Get(name))
		return n
	}
	limit, remaining, reset = get(HeaderLimit), get(HeaderRemaining), get(HeaderReset)
	if err != nil {
		t.Fatalf("status %d: rate headers %v: %v", r.status, r.header, err)
	}
	for _, h := range []string{fiberLimit, fiberRemaining, fiberReset} {
		if r.header.Get(h) != "" {
			t.Errorf("status %d: Fiber's %s leaked: %v", r.status, h, r.header)
		}
	}
	return limit, remaining, reset
}

func TestHeadersOnEveryResponseAnd429(t *testing.T) {
	app := newApp(t, Options{PerMinute: 4, AuthPerMinute: 10})
	ip := map[string]string{"X-IP": "192.0.2.1"}
	paths := []string{"/api/ok", "/api/invalid", "/api/nothing-here", "/api/ok"}
	wantStatus := []int{200, 422, 404, 200}
	for i, p := range paths {
		r := do(t, app, "GET", p, ip)
		if r.status != wantStatus[i] {
			t.Fatalf("GET %s: %d %s", p, r.status, r.body)
		}
		limit, remaining, reset := r.rate(t)
		if limit != 4 || remaining != 3-i || reset < 1 || reset > 60 {
			t.Errorf("GET %s: limit %d remaining %d reset %d", p, limit, remaining, reset)
		}
	}
	r := do(t, app, "GET", "/api/ok", ip)
	if r.status != fiber.StatusTooManyRequests {
		t.Fatalf("fifth request: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != routes.ProblemContentType {
		t.Errorf("Content-Type = %q", ct)
	}
	var p routes.Problem
	if err := json.Unmarshal(r.body, &p); err != nil || p.Status != 429 || p.Title != "Too Many Requests" || p.Detail == "" {
		t.Errorf("body = %s (%v)", r.body, err)
	}
	limit, remaining, reset := r.rate(t)
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if limit != 4 || remaining != 0 || err != nil || retry < 1 || retry > 60 || retry != reset {
		t.Errorf("429: limit %d remaining %d reset %d Retry-After %q", limit, remaining, reset, r.header.Get("Retry-After"))
	}

	// Another address, and the same address signed in, have budgets of their own.
	if r := do(t, app, "GET", "/api/ok", map[string]string{"X-IP": "192.0.2.2"}); r.status != 200 {
		t.Errorf("other address: %d", r.status)
	}
	if r := do(t, app, "GET", "/api/ok", map[string]string{"X-IP": "192.0.2.1", "X-User": "u1"}); r.status != 200 {
		t.Errorf("signed-in user on the exhausted address: %d", r.status)
	}
	// Paths outside the group are not limited.
	if r := do(t, app, "GET", "/health", ip); r.status != 200 || r.header.Get(HeaderLimit) != "" {
		t.Errorf("/health: %d %v", r.status, r.header)
	}
}

func TestAuthBudgetReportsTheTighterLimit(t *testing.T) {
	app := newApp(t, Options{PerMinute: 5, AuthPerMinute: 3})
	ip := map[string]string{"X-IP": "192.0.2.1"}
	// Each spelling the router accepts for the login route counts.
	logins := []string{"/api/auth/login", "/api/AUTH/Login", "/api/auth/login/"}
	for i, p := range logins {
		r := do(t, app, "POST", p, ip)
		if r.status != fiber.StatusUnauthorized {
			t.Fatalf("POST %s: %d %s", p, r.status, r.body)
		}
		if limit, remaining, _ := r.rate(t); limit != 3 || remaining != 2-i {
			t.Errorf("POST %s: limit %d remaining %d, want the auth budget", p, limit, remaining)
		}
	}
	r := do(t, app, "POST", "/api/auth/login", ip)
	if r.status != fiber.StatusTooManyRequests {
		t.Fatalf("fourth login: %d %s", r.status, r.body)
	}
	if limit, remaining, _ := r.rate(t); limit != 3 || remaining != 0 || r.header.Get("Retry-After") == "" {
		t.Errorf("auth 429: limit %d remaining %d %v", limit, remaining, r.header)
	}
	// Other endpoints still work: the general budget has 1 left (4 used).
	r = do(t, app, "POST", "/api/auth/logout", ip)
	if r.status != fiber.StatusNoContent {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if limit, remaining, _ := r.rate(t); limit != 5 || remaining != 0 {
		t.Errorf("logout: limit %d remaining %d", limit, remaining)
	}
	if r := do(t, app, "GET", "/api/ok", ip); r.status != fiber.StatusTooManyRequests {
		t.Errorf("general budget: %d", r.status)
	}
	// Another address can still log in.
	if r := do(t, app, "POST", "/api/auth/login", map[string]string{"X-IP": "192.0.2.9"}); r.status != fiber.StatusUnauthorized {
		t.Errorf("other address: %d", r.status)
	}
}

func TestGeneralLimitTighterThanAuth(t *testing.T) {
	app := newApp(t, Options{PerMinute: 2, AuthPerMinute: 5})
	ip := map[string]string{"X-IP": "192.0.2.1"}
	r := do(t, app, "POST", "/api/auth/login", ip)
	if limit, remaining, _ := r.rate(t); limit != 2 || remaining != 1 {
		t.Errorf("limit %d remaining %d, want the general budget", limit, remaining)
	}
	do(t, app, "POST", "/api/auth/login", ip)
	r = do(t, app, "POST", "/api/auth/login", ip)
	if r.status != fiber.StatusTooManyRequests {
		t.Fatalf("third login: %d", r.status)
	}
	if limit, remaining, _ := r.rate(t); limit != 2 || remaining != 0 {
		t.Errorf("limit %d remaining %d", limit, remaining)
	}
}

func TestWindowResets(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a one-second window")
	}
	app := newApp(t, Options{PerMinute: 1, AuthPerMinute: 1, Window: time.Second})
	ip := map[string]string{"X-IP": "192.0.2.1"}
	// Fiber's clock ticks once a second: a tick between two requests starts
	// a new window, so try a few times to see the second one refused.
	var r result
	for range 3 {
		do(t, app, "GET", "/api/ok", ip)
		if r = do(t, app, "GET", "/api/ok", ip); r.status == fiber.StatusTooManyRequests {
			break
		}
	}
	if r.status != fiber.StatusTooManyRequests {
		t.Fatalf("second request: %d", r.status)
	}
	retry, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if retry != 1 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	// The window may end up to a tick late.
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(250 * time.Millisecond)
		r = do(t, app, "GET", "/api/ok", ip)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still limited after the window: %d", r.status)
		}
	}
}

func TestMountDisabled(t *testing.T) {
	app := fiber.New()
	api := app.Group("/api")
	Mount(api, config.RateLimit{Enabled: false, PerMinute: 1, AuthPerMinute: 1}, nil)
	mountRoutes(api)
	for range 3 {
		r := do(t, app, "GET", "/api/ok", nil)
		if r.status != 200 || r.header.Get(HeaderLimit) != "" || r.header.Get(fiberLimit) != "" {
			t.Fatalf("%d %v", r.status, r.header)
		}
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":                   "192.0.2.1",
		"::ffff:192.0.2.1":            "192.0.2.1",
		"2001:db8:1:2:aaaa::1":        "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::9":   "2001:db8:1:2::/64",
		"2001:db8:1:3::1":             "2001:db8:1:3::/64",
		"fe80::1%eth0":                "fe80::/64",
		"::1":                         "::/64",
		"not an address":              "not an address",
		"":                            "",
		"2001:db8:0:0:0:0:0:1":        "2001:db8::/64",
		"2001:0db8:0001:0002:0:0:0:1": "2001:db8:1:2::/64",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIPv6SharesA64(t *testing.T) {
	app := newApp(t, Options{PerMinute: 2, AuthPerMinute: 2})
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		r := do(t, app, "GET", "/api/ok", map[string]string{"X-IP": ip})
		if want := []int{200, 200, 429}[i]; r.status != want {
			t.Errorf("%s: %d, want %d", ip, r.status, want)
		}
	}
	if r := do(t, app, "GET", "/api/ok", map[string]string{"X-IP": "2001:db8:1:3::1"}); r.status != 200 {
		t.Errorf("next /64: %d", r.status)
	}
}

func TestTighter(t *testing.T) {
	a := reading{limit: 10, remaining: 3, reset: 50}
	b := reading{limit: 100, remaining: 7, reset: 20}
	if !a.tighter(b) || b.tighter(a) {
		t.Error("fewer remaining must win")
	}
	c := reading{limit: 10, remaining: 0, reset: 10}
	d := reading{limit: 100, remaining: 0, reset: 40}
	if !d.tighter(c) || c.tighter(d) {
		t.Error("with none remaining, the later reset must win")
	}
}
