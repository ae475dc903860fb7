package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/routes"
)

// appWith builds an application with the server's error handling around a
// single test route.
func appWith(log *slog.Logger, path string, h fiber.Handler) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: routes.ErrorHandler(log, database.IsUnavailable), DisableStartupMessage: true})
	app.Use(requestID(), requestLogger(log), recoverPanics(log))
	app.Get(path, h)
	return app
}

func TestPanicAnswers500WithoutLeaking(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	app := appWith(log, "/boom", func(c *fiber.Ctx) error {
		panic("secret internal state: password=hunter2")
	})
	resp, err := app.Test(httptest.NewRequest("GET", "/boom", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "goroutine") {
		t.Errorf("response leaks the panic: %s", body)
	}
	id := resp.Header.Get("X-Request-ID")
	if id == "" || !strings.Contains(string(body), id) {
		t.Errorf("500 body should quote the request id %q: %s", id, body)
	}
	if !strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), id) {
		t.Errorf("the log should keep the panic with the request id: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"status":500`) {
		t.Errorf("the request line should record 500: %s", logs.String())
	}
}

func TestErrorMapping(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cases := []struct {
		name   string
		err    error
		status int
		leak   string
	}{
		{"database refused", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "refused"}}, 503, "dial"},
		{"deadline", context.DeadlineExceeded, 503, "deadline"},
		{"sql text", errors500("pq: syntax error at or near \"SELECT\""), 500, "SELECT"},
		{"problem passes through", routes.NewProblem(409, "already exists"), 409, ""},
		{"fiber error", fiber.ErrMethodNotAllowed, 405, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := appWith(log, "/x", func(*fiber.Ctx) error { return tc.err })
			resp, err := app.Test(httptest.NewRequest("GET", "/x", nil))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("body is not JSON: %s", raw)
			}
			if resp.StatusCode != tc.status || int(body["status"].(float64)) != tc.status {
				t.Fatalf("status %d / %v, want %d", resp.StatusCode, body["status"], tc.status)
			}
			if tc.leak != "" && strings.Contains(string(raw), tc.leak) {
				t.Errorf("response leaks %q: %s", tc.leak, raw)
			}
			if resp.Header.Get("Content-Type") != routes.ProblemContentType {
				t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

type errors500 string

func (e errors500) Error() string { return string(e) }

// TestShutdownFinishesInFlightRequests stops the server while a request is
// being handled: the request completes and Run returns.
func TestShutdownFinishesInFlightRequests(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	started := make(chan struct{})
	app := appWith(log, "/slow", func(c *fiber.Ctx) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return c.SendString("done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	runErr := make(chan error, 1)
	go func() { runErr <- Run(ctx, app, "127.0.0.1:0", 5*time.Second, log, func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr.String() + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- result{body: string(b)}
	}()
	<-started
	cancel()
	r := <-got
	if r.err != nil || r.body != "done" {
		t.Fatalf("in-flight request: %q, %v", r.body, r.err)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := http.Get("http://" + addr.String() + "/slow"); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}
