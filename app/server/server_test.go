package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/server"
	"github.com/todo-app/todo/app/server/servertest"
)

// startServer runs the whole application on the database at dbURL and
// returns its base URL; mutate, when set, adjusts the configuration.
func startServer(t *testing.T, dbURL string, mutate func(*config.Config)) string {
	t.Helper()
	return servertest.StartInstance(t, dbURL, servertest.InstanceOptions{Mutate: mutate}).URL
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func do(t *testing.T, method, url string, body io.Reader, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func TestHealthAndErrors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		base := startServer(t, dbURL, nil)

		t.Run("health", func(t *testing.T) {
			r := do(t, "GET", base+"/health", nil, nil)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			want := map[string]any{"status": "healthy", "api": "running", "database": "connected", "version": "test"}
			for k, v := range want {
				if r.body[k] != v {
					t.Errorf("%s = %v, want %v", k, r.body[k], v)
				}
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
		})

		cases := []struct {
			name, method, path string
			body               io.Reader
			headers            map[string]string
			status             int
		}{
			{"unknown api path", "GET", "/api/nothing-here", nil, nil, 404},
			{"unknown api path with traversal", "GET", "/api/../../etc/passwd", nil, nil, 404},
			{"unknown page, not GET", "POST", "/no/such/page", nil, nil, 404},
			{"method on health", "DELETE", "/health", nil, nil, 404},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := do(t, tc.method, base+tc.path, tc.body, tc.headers)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
				}
				assertProblem(t, r, tc.status)
			})
		}
	})
}

// TestBodyLimit sends a body one byte over the limit. The server answers
// before reading it all and closes the connection, so the request is written
// by hand: a client still uploading would see the reset instead of the 413.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	base := startServer(t, dbtest.NewURL(t, database.SQLite), nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST /api/tasks HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"title\":\"", server.BodyLimit+1)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	if r.status != 413 {
		t.Fatalf("status %d, want 413: %s", r.status, raw)
	}
	assertProblem(t, r, 413)
}

func assertProblem(t *testing.T, r response, status int) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	if got, _ := r.body["status"].(float64); int(got) != status {
		t.Errorf("problem status = %v, want %d", r.body["status"], status)
	}
	for _, k := range []string{"type", "title", "detail"} {
		if s, _ := r.body[k].(string); s == "" {
			t.Errorf("problem has no %q: %s", k, r.raw)
		}
	}
	if r.header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID on the error response")
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	base := startServer(t, dbtest.NewURL(t, database.SQLite), func(cfg *config.Config) {
		cfg.Server.PublicURL = "https://todo.example.com"
		cfg.Server.TrustedOrigins = []string{"https://app.example.com"}
	})

	t.Run("security headers", func(t *testing.T) {
		r := do(t, "GET", base+"/health", nil, nil)
		want := map[string]string{
			"X-Content-Type-Options":    "nosniff",
			"X-Frame-Options":           "DENY",
			"Referrer-Policy":           "strict-origin-when-cross-origin",
			"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
		}
		for k, v := range want {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("Content-Security-Policy = %q", r.header.Get("Content-Security-Policy"))
		}
	})

	requestIDs := []struct {
		name, sent string
		kept       bool
	}{
		{"well-formed id is kept", "proxy-1234.abc", true},
		{"markup is replaced", "<script>alert(1)</script>", false},
		{"quotes are replaced", `a"b=c`, false},
		{"over 128 characters is replaced", strings.Repeat("a", 129), false},
		{"spaces are replaced", "a b", false},
	}
	for _, tc := range requestIDs {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "GET", base+"/health", nil, map[string]string{"X-Request-ID": tc.sent})
			got := r.header.Get("X-Request-ID")
			if got == "" || (got == tc.sent) != tc.kept {
				t.Errorf("X-Request-ID = %q for %q, kept want %v", got, tc.sent, tc.kept)
			}
		})
	}

	t.Run("cors for trusted origin only", func(t *testing.T) {
		r := do(t, "OPTIONS", base+"/health", nil, map[string]string{
			"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
			t.Errorf("trusted origin: Access-Control-Allow-Origin = %q", got)
		}
		if got := r.header.Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Errorf("Access-Control-Allow-Credentials = %q", got)
		}
		r = do(t, "OPTIONS", base+"/health", nil, map[string]string{
			"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("untrusted origin: Access-Control-Allow-Origin = %q", got)
		}
	})
}

// TestHealthFollowsPostgres cuts the connection to PostgreSQL with a proxy in
// between: /health must turn 503 without hanging and return to 200 on its own
// once the database is reachable again.
func TestHealthFollowsPostgres(t *testing.T) {
	t.Parallel()
	dbURL, proxy := servertest.ProxyDatabaseURL(t, dbtest.NewURL(t, database.Postgres))
	base := startServer(t, dbURL, nil)

	expect := func(status int, state string) {
		t.Helper()
		start := time.Now()
		r := do(t, "GET", base+"/health", nil, nil)
		if r.status != status || r.body["database"] != state {
			t.Fatalf("health = %d %v, want %d %s", r.status, r.body, status, state)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("health took %s", d)
		}
	}
	expect(200, "connected")
	proxy.Down()
	expect(503, "unreachable")
	expect(503, "unreachable")
	proxy.Up(t)
	expect(200, "connected")
}
