package routes_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/app/server/servertest"
)

// The security matrix: every operation that needs a signed-in user, under
// every hostile condition, on every engine. Identifiers carry an "sm" prefix
// because other files of this package are written independently.

const (
	smCookieName = "better-auth.session_token"
	smEvil       = "https://evil.example"
	smPassword   = "sm-Matrix-Passw0rd!"
	smWrongPW    = "sm-Wrong-Passw0rd?"
	smLifetime   = 7 * 24 * time.Hour
)

// Kinds of operation, which decide what "another user's session" means.
const (
	smByID   = iota // /api/tasks/{id}...: 404 exactly as a missing id
	smList          // list and dashboard reads: 200 with none of A's data
	smCreate        // POST /api/tasks: creates B's own task
	smSelf          // POST /api/auth/refresh: acts on B's own session
	smLive          // /api/ws and /api/events
)

type smOp struct {
	method, path string // path may contain {id}
	kind         int
	body         any
}

func (o smOp) name() string { return o.method + " " + o.path }

var smOps = []smOp{
	{"GET", "/api/tasks", smList, nil},
	{"POST", "/api/tasks", smCreate, map[string]any{"title": "sm created by matrix", "priority": "high"}},
	{"GET", "/api/tasks/{id}", smByID, nil},
	{"PUT", "/api/tasks/{id}", smByID, map[string]any{"title": "sm replaced title", "status": true}},
	{"PATCH", "/api/tasks/{id}", smByID, map[string]any{"priority": "low", "description": "sm patched"}},
	{"DELETE", "/api/tasks/{id}", smByID, nil},
	{"PATCH", "/api/tasks/{id}/complete", smByID, nil},
	{"GET", "/api/dashboard/stats", smList, nil},
	{"GET", "/api/dashboard/overview", smList, nil},
	{"POST", "/api/auth/refresh", smSelf, nil},
	{"GET", "/api/ws", smLive, nil},
	{"GET", "/api/events", smLive, nil},
}

var smConditions = []string{"no-auth", "other-user", "forged-cookie", "cross-site-origin", "expired-session"}

// smUser is a signed-in account and its current (signed, escaped) cookie.
type smUser struct {
	id, email, token, cookie string
	taskIDs                  []int64
	titles                   []string
}

// smResp is what any request, HTTP or WebSocket handshake, came back with.
type smResp struct {
	status int
	header http.Header
	body   []byte
	hello  string // user_id of the first realtime message, when one came
}

func (r *smResp) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return m
}

type smEnv struct {
	srv     *servertest.Server
	a, b, c *smUser
	missing int64
}

func smSignUp(t *testing.T, srv *servertest.Server, label string) *smUser {
	t.Helper()
	email := fmt.Sprintf("sm-%s-%d@example.com", label, time.Now().UnixNano())
	cl := srv.Client(t)
	r := cl.SignUp("SM "+label, email, smPassword)
	u := &smUser{id: hostileStr(r.JSON(), "user", "id"), email: email, token: hostileStr(r.JSON(), "token"), cookie: cl.Cookie(smCookieName)}
	if u.id == "" || u.token == "" || u.cookie == "" {
		t.Fatalf("sign up %s: %s (cookie %q)", label, r.Body, u.cookie)
	}
	return u
}

func (e *smEnv) addTask(t *testing.T, u *smUser, title string) {
	t.Helper()
	r := e.send(t, smOp{"POST", "/api/tasks", smCreate, map[string]any{"title": title, "category": "sm-" + title}}, u.cookie, "", u)
	if r.status != http.StatusCreated {
		t.Fatalf("create %q: %d %s", title, r.status, r.body)
	}
	id, _ := r.json()["id"].(float64)
	u.taskIDs = append(u.taskIDs, int64(id))
	u.titles = append(u.titles, title)
}

// send performs op with the cookie (none when "") and Origin (the server's
// own when ""), A's first task standing for {id} unless path is given.
// A refreshed session cookie in the answer replaces holder's.
func (e *smEnv) send(t *testing.T, op smOp, cookie, origin string, holder *smUser) *smResp {
	t.Helper()
	return e.sendPath(t, op, strings.ReplaceAll(op.path, "{id}", strconv.FormatInt(e.aTask(), 10)), cookie, origin, holder)
}

func (e *smEnv) aTask() int64 {
	if e.a == nil || len(e.a.taskIDs) == 0 {
		return 1
	}
	return e.a.taskIDs[0]
}

func (e *smEnv) sendPath(t *testing.T, op smOp, path, cookie, origin string, holder *smUser) *smResp {
	t.Helper()
	if origin == "" {
		origin = e.srv.URL
	}
	hdr := http.Header{}
	hdr.Set("Origin", origin)
	if cookie != "" {
		hdr.Set("Cookie", smCookieName+"="+cookie)
	}
	var r *smResp
	switch path {
	case "/api/ws":
		r = smDialWS(t, e.srv, hdr)
	case "/api/events":
		r = smOpenSSE(t, e.srv, hdr)
	default:
		h := map[string]string{"Origin": origin}
		if cookie != "" {
			h["Cookie"] = smCookieName + "=" + cookie
		}
		resp := e.srv.Client(t).Request(op.method, path, op.body, h)
		r = &smResp{status: resp.Status, header: resp.Header, body: resp.Body}
	}
	if r.status >= 500 {
		t.Errorf("%s %s: server error %d %.300s", op.method, path, r.status, r.body)
	}
	if holder != nil {
		for _, line := range r.header.Values("Set-Cookie") {
			if c, err := http.ParseSetCookie(line); err == nil && c.Name == smCookieName && c.Value != "" && c.MaxAge >= 0 {
				holder.cookie = c.Value
			}
		}
	}
	return r
}

// smDialWS attempts the WebSocket handshake; on success it reads the hello.
func smDialWS(t *testing.T, srv *servertest.Server, hdr http.Header) *smResp {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/api/ws", hdr)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial /api/ws: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return &smResp{status: resp.StatusCode, header: resp.Header, body: body}
	}
	defer conn.Close()
	r := &smResp{status: resp.StatusCode, header: resp.Header}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, raw, err := conn.ReadMessage(); err == nil {
		r.body = raw
		r.hello = smHelloUser(raw)
	}
	return r
}

// smOpenSSE opens GET /api/events; on success it reads the hello and closes.
func smOpenSSE(t *testing.T, srv *servertest.Server, hdr http.Header) *smResp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
	req.Header = hdr.Clone()
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET /api/events: %v", err)
	}
	defer resp.Body.Close()
	r := &smResp{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		r.body, _ = io.ReadAll(resp.Body)
		return r
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			r.body = []byte(strings.TrimPrefix(line, "data: "))
			r.hello = smHelloUser(r.body)
			break
		}
	}
	return r
}

func smHelloUser(raw []byte) string {
	var msg realtime.Message
	if json.Unmarshal(raw, &msg) != nil || msg.Type != realtime.TypeHello {
		return ""
	}
	var hello realtime.Hello
	_ = json.Unmarshal(msg.Data, &hello)
	return hello.UserID
}

// smWantProblem checks status and an application/problem+json body.
func smWantProblem(t *testing.T, what string, r *smResp, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d: %.300s", what, r.status, status, r.body)
		return
	}
	m := r.json()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") || m["status"] != float64(status) || hostileStr(m, "title") == "" {
		t.Errorf("%s: not a problem+json %d (%s): %.300s", what, status, ct, r.body)
	}
}

// smForge flips one character of the cookie's signature.
func smForge(t *testing.T, cookie string) string {
	t.Helper()
	raw, err := url.QueryUnescape(cookie)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(raw, '.')
	if i < 0 || i+1 >= len(raw) {
		t.Fatalf("cookie %q has no signature", raw)
	}
	sig := []byte(raw[i+1:])
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	return url.QueryEscape(raw[:i+1] + string(sig))
}

// smFlipLast changes a token's last byte. Appending a fixed letter instead
// would leave the token valid whenever it already ended in that letter.
func smFlipLast(token string) string {
	last := byte('x')
	if token[len(token)-1] == last {
		last = 'y'
	}
	return token[:len(token)-1] + string(last)
}

// smState is what A owns: each task's version (0 when gone) and the count.
func (e *smEnv) state(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, id := range e.a.taskIDs {
		r := e.sendPath(t, smOp{method: "GET"}, "/api/tasks/"+strconv.FormatInt(id, 10), e.a.cookie, "", e.a)
		v := 0.0
		if r.status == http.StatusOK {
			v, _ = r.json()["version"].(float64)
		}
		parts = append(parts, fmt.Sprintf("%d:%d/v%v", id, r.status, v))
	}
	r := e.send(t, smOp{method: "GET", path: "/api/tasks?limit=200"}, e.a.cookie, "", e.a)
	parts = append(parts, fmt.Sprintf("list:%d total=%v", r.status, r.json()["total"]))
	return strings.Join(parts, " ")
}

// noAData asserts that a body of another user's holds none of A's data.
// The ids of realtime messages are sequence numbers, not task ids, so a
// hello is checked by text only (ids false).
func (e *smEnv) noAData(t *testing.T, what string, body []byte, ids bool) {
	t.Helper()
	s := string(body)
	for _, needle := range append([]string{e.a.id, e.a.email}, e.a.titles...) {
		if strings.Contains(s, needle) {
			t.Errorf("%s: B's answer contains A's %q: %.400s", what, needle, body)
		}
	}
	if !ids {
		return
	}
	var v any
	_ = json.Unmarshal(body, &v)
	smWalk(v, func(m map[string]any) {
		id, ok := m["id"].(float64)
		if !ok {
			return
		}
		for _, aid := range e.a.taskIDs {
			if int64(id) == aid {
				t.Errorf("%s: B's answer holds A's task id %d: %v", what, aid, m)
			}
		}
	})
}

func smWalk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, c := range x {
			smWalk(c, fn)
		}
	case []any:
		for _, c := range x {
			smWalk(c, fn)
		}
	}
}

// smSameBody compares two bodies with their request ids removed.
func smSameBody(a, b *smResp) bool {
	strip := func(r *smResp) string {
		s := string(r.body)
		if id := r.header.Get("X-Request-ID"); id != "" {
			s = strings.ReplaceAll(s, id, "<request-id>")
		}
		return s
	}
	return strip(a) == strip(b)
}

func TestSecurityMatrix(t *testing.T) {
	cells := 0
	var mu sync.Mutex
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		e := &smEnv{srv: srv}
		e.a, e.b = smSignUp(t, srv, "alpha"), smSignUp(t, srv, "bravo")
		e.addTask(t, e.a, "sm-alpha-secret-title-one")
		e.addTask(t, e.a, "sm-alpha-secret-title-two")
		e.addTask(t, e.b, "sm-bravo-own-task")
		e.missing = e.a.taskIDs[len(e.a.taskIDs)-1] + 1_000_000
		count := func() {
			mu.Lock()
			cells++
			mu.Unlock()
		}

		t.Run("no-auth", func(t *testing.T) {
			for _, op := range smOps {
				count()
				smWantProblem(t, op.name(), e.send(t, op, "", "", nil), http.StatusUnauthorized)
			}
		})

		t.Run("other-user", func(t *testing.T) {
			before := e.state(t)
			for _, op := range smOps {
				count()
				what := op.name() + " as B"
				r := e.send(t, op, e.b.cookie, "", e.b)
				switch op.kind {
				case smByID:
					miss := e.sendPath(t, op, strings.ReplaceAll(op.path, "{id}", strconv.FormatInt(e.missing, 10)), e.b.cookie, "", e.b)
					smWantProblem(t, what, r, http.StatusNotFound)
					if r.status != miss.status || !smSameBody(r, miss) || r.header.Get("Content-Type") != miss.header.Get("Content-Type") {
						t.Errorf("%s: A's task answers %d %s %s, a missing id %d %s %s", what,
							r.status, r.header.Get("Content-Type"), r.body, miss.status, miss.header.Get("Content-Type"), miss.body)
					}
				case smList:
					if r.status != http.StatusOK {
						t.Errorf("%s: %d %.300s, want 200", what, r.status, r.body)
					}
					e.noAData(t, what, r.body, true)
				case smCreate:
					if r.status != http.StatusCreated || hostileStr(r.json(), "user_id") != e.b.id {
						t.Errorf("%s: %d %.300s, want 201 owned by B", what, r.status, r.body)
					}
					e.noAData(t, what, r.body, true)
				case smSelf:
					if r.status != http.StatusOK || hostileStr(r.json(), "user", "id") != e.b.id {
						t.Errorf("%s: %d %.300s, want 200 for B", what, r.status, r.body)
					}
					e.noAData(t, what, r.body, true)
				case smLive:
					if r.status != http.StatusSwitchingProtocols && r.status != http.StatusOK {
						t.Errorf("%s: %d %.300s, want B's stream", what, r.status, r.body)
					} else if r.hello != e.b.id {
						t.Errorf("%s: hello for %q, want B %q: %s", what, r.hello, e.b.id, r.body)
					}
					e.noAData(t, what, r.body, false)
				}
			}
			if after := e.state(t); after != before {
				t.Errorf("B's requests changed A's tasks: before %s, after %s", before, after)
			}
		})

		t.Run("forged-cookie", func(t *testing.T) {
			forged := smForge(t, e.a.cookie)
			before := e.state(t)
			for _, op := range smOps {
				count()
				smWantProblem(t, op.name()+" with forged cookie", e.send(t, op, forged, "", nil), http.StatusUnauthorized)
			}
			if after := e.state(t); after != before {
				t.Errorf("forged-cookie requests changed A's tasks: before %s, after %s", before, after)
			}
		})

		t.Run("cross-site-origin", func(t *testing.T) {
			for _, op := range smOps {
				count()
				what := op.name() + " from " + smEvil
				before := e.state(t)
				oldCookie := e.a.cookie
				r := e.send(t, op, e.a.cookie, smEvil, e.a)
				switch {
				case op.kind == smLive:
					smWantProblem(t, what, r, http.StatusForbidden)
				case op.method == "GET":
					if r.status != http.StatusOK {
						t.Errorf("%s: %d %.300s, want 200 (a cross-site Origin is harmless on a JSON read)", what, r.status, r.body)
					}
				default:
					smWantProblem(t, what, r, http.StatusForbidden)
					if e.a.cookie != oldCookie {
						t.Errorf("%s: refused request still set a new session cookie", what)
						e.a.cookie = oldCookie
					}
				}
				if after := e.state(t); after != before {
					t.Errorf("%s changed A's tasks: before %s, after %s", what, before, after)
				}
			}
			// The refused refresh did not rotate A's session.
			r := e.sendPath(t, smOp{method: "GET"}, "/api/auth/session", e.a.cookie, "", nil)
			if hostileStr(r.json(), "user", "id") != e.a.id {
				t.Errorf("A's session no longer works after the cross-site requests: %d %s", r.status, r.body)
			}
		})

		// Last: moving the clock expires every session on this server.
		t.Run("expired-session", func(t *testing.T) {
			e.c = smSignUp(t, srv, "charlie")
			if r := e.sendPath(t, smOp{method: "GET"}, "/api/tasks", e.c.cookie, "", nil); r.status != http.StatusOK {
				t.Fatalf("C's fresh session: %d %s", r.status, r.body)
			}
			srv.Clock.Advance(smLifetime + time.Hour)
			for _, op := range smOps {
				count()
				smWantProblem(t, op.name()+" with expired session", e.send(t, op, e.c.cookie, "", nil), http.StatusUnauthorized)
			}
		})
	})
	t.Cleanup(func() {
		t.Logf("security matrix: %d operations x %d conditions x %d engines = %d cells (%d run)",
			len(smOps), len(smConditions), len(dbtest.Dialects), len(smOps)*len(smConditions)*len(dbtest.Dialects), cells)
	})
}

// smLogBuf collects log output from the server's goroutines.
type smLogBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *smLogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *smLogBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSecurityMatrixNoSecretsInLogs(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			logs := &smLogBuf{}
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			inst := servertest.StartInstance(t, servertest.NewDatabaseURL(t, d), servertest.InstanceOptions{Logger: log})
			srv := inst.Server
			needles := []string{smPassword, smWrongPW, servertest.Secret}

			email := fmt.Sprintf("sm-logs-%d@example.com", time.Now().UnixNano())
			c := srv.Client(t)
			r := c.SignUp("SM Logs", email, smPassword)
			needles = append(needles, hostileStr(r.JSON(), "token"), c.Cookie(smCookieName))

			wrong := srv.Client(t).Request("POST", "/api/auth/login", map[string]string{"email": email, "password": smWrongPW}, nil)
			if wrong.Status != http.StatusUnauthorized {
				t.Errorf("login with a wrong password: %d %s", wrong.Status, wrong.Body)
			}
			lc := srv.Client(t)
			r = lc.Request("POST", "/api/auth/login", map[string]string{"email": email, "password": smPassword}, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("login: %d %s", r.Status, r.Body)
			}
			token := hostileStr(r.JSON(), "token")
			needles = append(needles, token, lc.Cookie(smCookieName))

			r = lc.Request("POST", "/api/tasks", map[string]any{"title": "sm logged task"}, nil)
			if r.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			path := "/api/tasks/" + strconv.FormatInt(int64(r.JSON()["id"].(float64)), 10)
			for _, step := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/api/tasks", nil},
				{"PATCH", path, map[string]any{"priority": "high"}},
				{"PATCH", path + "/complete", nil},
				{"GET", path, nil},
				{"GET", "/api/dashboard/overview", nil},
				{"DELETE", path, nil},
			} {
				if r := lc.Request(step.method, step.path, step.body, nil); r.Status >= 400 {
					t.Errorf("%s %s: %d %s", step.method, step.path, r.Status, r.Body)
				}
			}
			// A Bearer request, then forged cookie and Bearer requests.
			bearer := srv.Client(t)
			bearer.Origin, bearer.Bearer = "", token
			if r := bearer.Request("GET", "/api/tasks", nil, nil); r.Status != http.StatusOK {
				t.Errorf("bearer list: %d %s", r.Status, r.Body)
			}
			forged := smForge(t, lc.Cookie(smCookieName))
			needles = append(needles, forged)
			if r := srv.Client(t).Request("GET", "/api/tasks", nil, map[string]string{"Cookie": smCookieName + "=" + forged}); r.Status != http.StatusUnauthorized {
				t.Errorf("forged cookie: %d %s", r.Status, r.Body)
			}
			if r := srv.Client(t).Request("POST", "/api/tasks", map[string]any{"title": "x"}, map[string]string{"Cookie": smCookieName + "=" + forged}); r.Status != http.StatusUnauthorized {
				t.Errorf("forged cookie POST: %d %s", r.Status, r.Body)
			}
			bearer.Bearer = smFlipLast(token)
			if r := bearer.Request("GET", "/api/tasks", nil, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("forged bearer: %d %s", r.Status, r.Body)
			}
			if r := lc.Request("POST", "/api/auth/logout", nil, nil); r.Status != http.StatusOK {
				t.Errorf("logout: %d %s", r.Status, r.Body)
			}

			var hashes []string
			if err := srv.DB.Read.NewRaw(`SELECT "password" FROM "account" WHERE "password" IS NOT NULL`).Scan(context.Background(), &hashes); err != nil || len(hashes) == 0 {
				t.Fatalf("load password hashes: %v (%d)", err, len(hashes))
			}
			for _, h := range hashes {
				needles = append(needles, h, h[len(h)/2:])
			}
			inst.Stop()
			out := logs.String()
			if !strings.Contains(out, `"msg":"request"`) {
				t.Fatalf("no request logs were captured; the check would be vacuous:\n%.2000s", out)
			}
			for _, n := range needles {
				if n == "" {
					t.Errorf("an empty needle: a token or cookie was not captured")
					continue
				}
				for _, form := range []string{n, url.QueryEscape(n)} {
					if strings.Contains(out, form) {
						t.Errorf("the log reveals a secret (%.12q...)", form)
						break
					}
				}
			}
			// A raw token signed into a cookie also appears unescaped.
			for _, ck := range []string{c.Cookie(smCookieName), lc.Cookie(smCookieName)} {
				if raw, err := url.QueryUnescape(ck); err == nil && raw != "" && strings.Contains(out, raw) {
					t.Errorf("the log reveals a session cookie (%.12q...)", raw)
				}
			}
		})
	}
}
