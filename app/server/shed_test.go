package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/server"
	"github.com/todo-app/todo/app/server/servertest"
)

const shedOrigin = "https://app.example.com"

// TestShed holds the only slot with a handler that waits for the test, so
// what happens to the requests behind it does not depend on timing.
func TestShed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		wait  time.Duration
		check func(t *testing.T, app *fiber.App, release func())
	}{
		{"over the limit waits queue_timeout, then 503", 100 * time.Millisecond, func(t *testing.T, app *fiber.App, _ func()) {
			start := time.Now()
			resp := appGet(t, app, "/api/quick")
			if took := time.Since(start); took < 100*time.Millisecond {
				t.Errorf("refused after %v, before the queue timeout", took)
			}
			assertShed(t, resp.status, resp.header, resp.raw)
		}},
		{"queue_timeout 0 refuses at once", 0, func(t *testing.T, app *fiber.App, _ func()) {
			r := appGet(t, app, "/api/quick")
			assertShed(t, r.status, r.header, r.raw)
		}},
		{"a slot freed within queue_timeout is taken", 10 * time.Second, func(t *testing.T, app *fiber.App, release func()) {
			got := make(chan response, 1)
			go func() { got <- appGet(t, app, "/api/quick") }()
			time.Sleep(50 * time.Millisecond)
			release()
			if r := <-got; r.status != 200 {
				t.Errorf("queued request: %d %s", r.status, r.raw)
			}
		}},
		{"live-update endpoints take no slot", 0, func(t *testing.T, app *fiber.App, _ func()) {
			// The router matches these spellings too, so the exemption must.
			for _, p := range []string{"/api/events", "/api/ws", "/api/events/", "/API/WS/", "/api/Events"} {
				if r := appGet(t, app, p); r.status != 200 {
					t.Errorf("GET %s while every slot is busy: %d %s", p, r.status, r.raw)
				}
			}
			if r := appGet(t, app, "/api/wsx"); r.status != 503 {
				t.Errorf("GET /api/wsx: %d, want 503 (only the exact paths are exempt)", r.status)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			held := make(chan struct{})
			unblock := make(chan struct{})
			var once sync.Once
			release := func() { once.Do(func() { close(unblock) }) }
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			api := app.Group("/api", server.Shed(server.ShedOptions{MaxInflight: 1, QueueTimeout: tt.wait}))
			api.Get("/hold", func(c *fiber.Ctx) error {
				close(held)
				<-unblock
				return c.SendString("held")
			})
			ok := func(c *fiber.Ctx) error { return c.SendString("ok") }
			api.Get("/quick", ok)
			api.Get("/wsx", ok)
			api.Get("/ws", ok)
			api.Get("/events", ok)

			holder := make(chan response, 1)
			go func() { holder <- appGet(t, app, "/api/hold") }()
			<-held
			tt.check(t, app, release)
			release()
			if r := <-holder; r.status != 200 {
				t.Errorf("the request holding the slot: %d %s", r.status, r.raw)
			}
			if r := appGet(t, app, "/api/quick"); r.status != 200 {
				t.Errorf("after the slot is free: %d %s", r.status, r.raw)
			}
		})
	}
}

func appGet(t *testing.T, app *fiber.App, path string) response {
	resp, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return response{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, raw: raw}
}

// assertShed checks a refusal is the 503 problem clients are told to retry.
func assertShed(t *testing.T, status int, h http.Header, raw []byte) {
	t.Helper()
	if status != 503 {
		t.Fatalf("status %d, want 503: %s", status, raw)
	}
	if got := h.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	if ct := h.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.Status != 503 || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("problem body %s (%v)", raw, err)
	}
}

// shedUser signs up a user on srv, seeds tasks for list to return, and
// returns the Bearer token.
func shedUser(t *testing.T, srv *servertest.Server, email string, tasks int) string {
	t.Helper()
	c := srv.Client(t)
	token, _ := c.SignUp("Load", email, "correct horse battery").JSON()["token"].(string)
	if token == "" {
		t.Fatal("sign-up returned no token")
	}
	for i := range tasks {
		if r := c.Request("POST", "/api/tasks", map[string]any{"title": fmt.Sprintf("task %d", i), "description": strings.Repeat("d", 200)}, nil); r.Status != 201 {
			t.Fatalf("seed task: %d %s", r.Status, r.Body)
		}
	}
	return token
}

// TestOverload hammers list with far more clients than slots: some requests
// are refused with 503 and Retry-After, none fail otherwise, /health and an
// open event stream stay responsive, and the server serves normally after.
func TestOverload(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		inst := servertest.StartInstance(t, dbURL, servertest.InstanceOptions{Mutate: func(c *config.Config) {
			c.Server.MaxInflight = 2
			c.Server.QueueTimeout = 20 * time.Millisecond
			c.Server.TrustedOrigins = []string{shedOrigin}
		}})
		token := shedUser(t, inst.Server, "load@example.com", 30)
		events := openEvents(t, inst.URL, token)

		const clients = 64
		res := hammer(t, inst.URL, token, clients, time.Second)
		t.Logf("%d clients for 1s: %v; /health %d probes, slowest %v", clients, res.statuses, res.healthProbes, res.healthMax)

		if res.statuses[503] == 0 {
			t.Error("nothing was shed")
		}
		for st, n := range res.statuses {
			if st != 200 && st != 503 {
				t.Errorf("%d responses with status %d", n, st)
			}
		}
		if res.transportErrs > 0 {
			t.Errorf("%d requests failed without a response, first: %v", res.transportErrs, res.firstErr)
		}
		if res.shed != nil {
			assertShed(t, 503, res.shed.header, res.shed.raw)
			if !strings.Contains(res.shed.header.Get("Access-Control-Expose-Headers"), "Retry-After") {
				t.Errorf("a cross-origin client cannot read Retry-After: Access-Control-Expose-Headers = %q",
					res.shed.header.Get("Access-Control-Expose-Headers"))
			}
			if res.shed.header.Get("X-Request-ID") == "" {
				t.Error("the 503 has no X-Request-ID")
			}
		}
		if res.healthBad > 0 {
			t.Errorf("/health answered other than 200 %d times during the overload", res.healthBad)
		}
		if res.healthMax > time.Second {
			t.Errorf("/health took %v during the overload", res.healthMax)
		}

		// Served again as soon as the burst is over, and the stream opened
		// before it still delivers.
		c := servertest.NewBearerClient(inst.URL, token)
		for i := range 5 {
			if st, body, err := c.Do(context.Background(), "GET", "/api/tasks", nil); err != nil || st != 200 {
				t.Fatalf("request %d after the burst: %d %s %v", i, st, body, err)
			}
		}
		if st, body, err := c.Do(context.Background(), "POST", "/api/tasks", map[string]any{"title": "after the burst"}); err != nil || st != 201 {
			t.Fatalf("create after the burst: %d %s %v", st, body, err)
		}
		events.expect(t, `"task.created"`, 5*time.Second)
	})

	t.Run("max_inflight 0 sheds nothing", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, database.SQLite, func(c *config.Config) { c.Server.MaxInflight = 0 })
		token := shedUser(t, srv, "noshed@example.com", 5)
		res := hammer(t, srv.URL, token, 32, 300*time.Millisecond)
		if res.transportErrs > 0 || len(res.statuses) != 1 || res.statuses[200] == 0 {
			t.Errorf("statuses %v, %d transport errors (%v); want only 200", res.statuses, res.transportErrs, res.firstErr)
		}
	})
}

type hammerResult struct {
	statuses      map[int]int
	transportErrs int
	firstErr      error
	shed          *response // one 503, to check its shape
	healthProbes  int
	healthBad     int
	healthMax     time.Duration
}

// hammer runs clients that list tasks back to back for d while probing
// /health every 20 ms.
func hammer(t *testing.T, base, token string, clients int, d time.Duration) hammerResult {
	t.Helper()
	httpc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer httpc.CloseIdleConnections()
	res := hammerResult{statuses: map[int]int{}}
	var mu sync.Mutex
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", base+"/api/tasks?limit=50", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Origin", shedOrigin)
				resp, err := httpc.Do(req)
				var raw []byte
				if err == nil {
					raw, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				switch {
				case err != nil:
					res.transportErrs++
					if res.firstErr == nil {
						res.firstErr = err
					}
				default:
					res.statuses[resp.StatusCode]++
					// Keep the first 503, or any that is malformed.
					if resp.StatusCode == 503 && (res.shed == nil || resp.Header.Get("Retry-After") != "1" ||
						resp.Header.Get("Content-Type") != "application/problem+json") {
						res.shed = &response{status: 503, header: resp.Header, raw: raw}
					}
				}
				mu.Unlock()
			}
		}()
	}
	probe := &http.Client{Timeout: 10 * time.Second}
	for time.Now().Before(deadline) {
		start := time.Now()
		resp, err := probe.Get(base + "/health")
		took := time.Since(start)
		res.healthProbes++
		res.healthMax = max(res.healthMax, took)
		if err != nil {
			res.healthBad++
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				res.healthBad++
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	return res
}

// eventStream is an open GET /api/events whose lines are collected.
type eventStream struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{}
}

func openEvents(t *testing.T, base, token string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		resp.Body.Close()
		t.Fatalf("GET /api/events: %d", resp.StatusCode)
	}
	s := &eventStream{more: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s
}

// expect waits for a line containing want.
func (s *eventStream) expect(t *testing.T, want string, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		s.mu.Lock()
		for _, l := range s.lines {
			if strings.Contains(l, want) {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		select {
		case <-s.more:
		case <-timeout:
			t.Fatalf("no %s on the event stream within %v", want, within)
		}
	}
}

// TestSlowClientsAreCutOff opens raw connections that send a request a byte
// at a time. server.read_timeout bounds the whole request, headers and body,
// from its first byte (fasthttp sets one read deadline per request, which a
// trickle does not extend), so each connection is closed, with a 408 when
// the server can still answer, while other clients are served.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	const readTimeout = 300 * time.Millisecond
	srv := servertest.Start(t, database.SQLite, func(c *config.Config) { c.Server.ReadTimeout = readTimeout })
	token := shedUser(t, srv, "slow@example.com", 1)
	auth := "Authorization: Bearer " + token + "\r\n"
	post := "POST /api/tasks HTTP/1.1\r\nHost: todo\r\n" + auth + "Content-Type: application/json\r\n"

	tests := []struct {
		name    string
		first   string // sent at once
		trickle string // then sent every 50 ms until the server closes
		before  []int  // statuses of complete requests in first
	}{
		{name: "slow request line", first: "GET /api/ta", trickle: "s"},
		{name: "slow headers", first: "GET /api/tasks HTTP/1.1\r\nHost: todo\r\n" + auth, trickle: "X-Slow: 1\r\n"},
		{name: "slow headers on a kept-alive connection", first: "GET /health HTTP/1.1\r\nHost: todo\r\n\r\nGET /api/tasks HTTP/1.1\r\n",
			trickle: "X-Slow: 1\r\n", before: []int{200}},
		{name: "slow body", first: post + "Content-Length: 1000\r\n\r\n{\"title\":\"", trickle: "x"},
		{name: "slow body after 100-continue", first: post + "Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n", trickle: "x", before: []int{100}},
		{name: "slow chunked body", first: post + "Transfer-Encoding: chunked\r\n\r\n", trickle: "1\r\nx\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			const bound = 5 * time.Second
			_ = conn.SetReadDeadline(start.Add(bound))
			type result struct {
				data []byte
				err  error
				at   time.Duration
			}
			read := make(chan result, 1)
			go func() {
				data, err := io.ReadAll(conn)
				read <- result{data, err, time.Since(start)}
			}()
			if _, err := io.WriteString(conn, tt.first); err != nil {
				t.Fatal(err)
			}

			var got result
			served := false
		trickle:
			for {
				select {
				case got = <-read:
					break trickle
				case <-time.After(50 * time.Millisecond):
				}
				// A write after the server closed fails: nothing to do
				// but wait for the read to see the close.
				_, _ = io.WriteString(conn, tt.trickle)
				if !served {
					served = true
					st, body, err := servertest.NewBearerClient(srv.URL, token).Do(context.Background(), "GET", "/api/tasks", nil)
					if err != nil || st != 200 {
						t.Errorf("another client meanwhile: %d %s %v", st, body, err)
					}
				}
			}

			var nerr net.Error
			if errors.As(got.err, &nerr) && nerr.Timeout() {
				t.Fatalf("connection still open after %v; received %q", bound, got.data)
			}
			if got.at < readTimeout-20*time.Millisecond {
				t.Errorf("closed after %v, before server.read_timeout (%v)", got.at, readTimeout)
			}
			statuses := readStatuses(got.data)
			t.Logf("closed after %v (%v), responses %v", got.at.Round(time.Millisecond), got.err, statuses)
			// A reset (the trickle raced the close) can swallow the 408, so
			// only what did arrive is checked.
			for i, st := range statuses {
				want := 408
				if i < len(tt.before) {
					want = tt.before[i]
				}
				if st != want || i > len(tt.before) {
					t.Errorf("responses %v, want %v then at most a 408", statuses, tt.before)
					break
				}
			}
			if got.err == nil && len(statuses) != len(tt.before)+1 {
				t.Errorf("clean close with responses %v, want %v then a 408", statuses, tt.before)
			}
		})
	}
}

// readStatuses parses the responses in a raw byte stream.
func readStatuses(data []byte) []int {
	var out []int
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return out
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out = append(out, resp.StatusCode)
	}
}
