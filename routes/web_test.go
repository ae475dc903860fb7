package routes_test

import (
	"bytes"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/server/servertest"
	"github.com/todo-app/todo/routes"
	"github.com/todo-app/todo/web"
)

// webAssets returns the /assets/... URLs index.html loads.
func webAssets(t *testing.T, index []byte) []string {
	t.Helper()
	found := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllSubmatch(index, -1)
	var out []string
	for _, m := range found {
		out = append(out, string(m[1]))
	}
	if len(out) < 2 {
		t.Fatalf("index.html should load a script and a stylesheet from /assets/, found %v", out)
	}
	return out
}

func wantProblem(t *testing.T, r *servertest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != routes.ProblemContentType {
		t.Fatalf("Content-Type %q, want %q: %s", ct, routes.ProblemContentType, r.Body)
	}
	if len(r.Body) > 0 && r.JSON()["status"] != float64(status) { // HEAD has no body
		t.Fatalf("problem body %s", r.Body)
	}
}

func TestWebAppServing(t *testing.T) {
	srv := servertest.Start(t, database.SQLite, nil)
	c := srv.Client(t)
	index, err := fs.ReadFile(web.Dist(), "index.html")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("index", func(t *testing.T) {
		r := c.Request("GET", "/", nil, nil)
		if r.Status != 200 || !bytes.Equal(r.Body, index) {
			t.Fatalf("GET /: %d %q", r.Status, r.Body)
		}
		for h, want := range map[string]string{
			"Content-Type":           "text/html; charset=utf-8",
			"Cache-Control":          "no-cache",
			"X-Content-Type-Options": "nosniff",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("Content-Security-Policy = %q", csp)
		}
		if r.Header.Get("ETag") == "" || r.Header.Get("X-Request-ID") == "" {
			t.Errorf("ETag %q, X-Request-ID %q", r.Header.Get("ETag"), r.Header.Get("X-Request-ID"))
		}
		// The CSP allows no inline script or style: the build must have none.
		if regexp.MustCompile(`<script(?:\s+[^>]*)?>\s*[^<\s]`).Match(index) || bytes.Contains(index, []byte("style=")) ||
			bytes.Contains(index, []byte("<style")) {
			t.Errorf("index.html has inline script or style:\n%s", index)
		}

		again := c.Request("GET", "/", nil, map[string]string{"If-None-Match": r.Header.Get("ETag")})
		if again.Status != 304 || len(again.Body) != 0 {
			t.Errorf("revalidation: %d %q", again.Status, again.Body)
		}
	})

	t.Run("spa fallback", func(t *testing.T) {
		for _, p := range []string{"/index.html", "/dashboard", "/tasks/42", "/signin?next=%2Ftasks", "/no/such/page",
			"/apiary", "/assets", "/assets/../../go.mod", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fgo.mod"} {
			r := c.Request("GET", p, nil, nil)
			if r.Status != 200 || !bytes.Equal(r.Body, index) {
				t.Errorf("GET %s: %d %.80q, want index.html", p, r.Status, r.Body)
				continue
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("GET %s: Cache-Control %q", p, cc)
			}
		}
	})

	t.Run("hashed assets", func(t *testing.T) {
		types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
		for _, p := range webAssets(t, index) {
			want, err := fs.ReadFile(web.Dist(), strings.TrimPrefix(p, "/"))
			if err != nil {
				t.Fatal(err)
			}
			r := c.Request("GET", p, nil, nil)
			if r.Status != 200 || !bytes.Equal(r.Body, want) {
				t.Fatalf("GET %s: %d, %d bytes, want %d", p, r.Status, len(r.Body), len(want))
			}
			if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("GET %s: Cache-Control %q", p, cc)
			}
			ext := p[strings.LastIndex(p, "."):]
			if ct := r.Header.Get("Content-Type"); ct != types[ext] {
				t.Errorf("GET %s: Content-Type %q, want %q", p, ct, types[ext])
			}
			h := c.Request("HEAD", p, nil, nil)
			if h.Status != 200 || len(h.Body) != 0 || h.Header.Get("Content-Type") != types[ext] {
				t.Errorf("HEAD %s: %d %q %d bytes", p, h.Status, h.Header.Get("Content-Type"), len(h.Body))
			}
		}
		wantProblem(t, c.Request("GET", "/assets/index-nosuchhash.js", nil, nil), 404)

		r := c.Request("GET", "/favicon.svg", nil, nil)
		if r.Status != 200 || r.Header.Get("Content-Type") != "image/svg+xml" || r.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET /favicon.svg: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
		}
	})

	t.Run("head", func(t *testing.T) {
		for _, p := range []string{"/", "/dashboard"} {
			r := c.Request("HEAD", p, nil, nil)
			if r.Status != 200 || len(r.Body) != 0 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
				r.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("HEAD %s: %d %v %q", p, r.Status, r.Header, r.Body)
			}
		}
	})

	t.Run("unknown api paths stay json", func(t *testing.T) {
		for _, p := range []string{"/api", "/api/", "/api/nothing-here", "/api/tasks/1/nope", "/API/nothing", "/api/../api/x",
			"/api/../../etc/passwd", "/api/../dashboard"} {
			t.Run(p, func(t *testing.T) { wantProblem(t, c.Request("GET", p, nil, nil), 404) })
		}
		wantProblem(t, c.Request("POST", "/api/nothing-here", "{}", nil), 404)
		wantProblem(t, c.Request("HEAD", "/api/nothing-here", nil, nil), 404)
	})

	t.Run("other methods", func(t *testing.T) {
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			for _, p := range []string{"/", "/dashboard", "/assets/x.js"} {
				wantProblem(t, c.Request(m, p, "{}", nil), 404)
			}
		}
	})

	t.Run("api and health unaffected", func(t *testing.T) {
		if r := c.Request("GET", "/health", nil, nil); r.Status != 200 || r.JSON()["status"] != "healthy" {
			t.Errorf("/health: %d %s", r.Status, r.Body)
		}
		r := c.Request("GET", "/api/auth/session", nil, nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("/api/auth/session: %d %q %s", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		wantProblem(t, c.Request("GET", "/api/tasks", nil, nil), 401)
	})
}

func TestNewWebAppNeedsIndex(t *testing.T) {
	if _, err := routes.NewWebApp(fstest.MapFS{"assets/a.js": {Data: []byte("x")}}); err == nil {
		t.Fatal("a build without index.html was accepted")
	}
	if _, err := routes.NewWebApp(fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}}); err != nil {
		t.Fatal(err)
	}
}
