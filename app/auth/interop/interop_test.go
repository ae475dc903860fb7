// Package interop_test runs the real Better Auth (Node, pinned in
// package.json) and `todo serve` on one database, on SQLite and PostgreSQL,
// and checks that each accepts the other's users, passwords and sessions.
//
// It needs node and this folder's node_modules, which it installs with npm ci
// when they are missing. Without node or npm the test is skipped, unless
// CI=true or TODOTEST_REQUIRE_INTEROP=1 makes it fail.
package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/todo-app/todo/app/server/servertest"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
)

// RequireInteropEnv (or CI=true) turns a missing node or node_modules into a
// failure instead of a skip.
const RequireInteropEnv = "TODOTEST_REQUIRE_INTEROP"

const (
	secret      = "interop-test-secret-3f9c1a7e5b2d8064aa17c9e2"
	cookieName  = "better-auth.session_token"
	startLimit  = 30 * time.Second
	commandWait = 30 * time.Second
)

func TestMain(m *testing.M) {
	code := m.Run()
	servertest.RemoveTodoBinary()
	os.Exit(code)
}

func interopRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv(RequireInteropEnv) == "1"
}

// requireNode skips (or fails, when required) unless node and the npm
// dependencies are present, and returns node's path.
func requireNode(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if interopRequired() {
			t.Fatalf("Better Auth interop is required (CI=true or %s=1) but %s", RequireInteropEnv, msg)
		}
		t.Skipf("skipping the Better Auth interop test: %s", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed (%v)", err)
	}
	if !depsInstalled() {
		// The README's single test command must cover this test on a fresh
		// machine, so the pinned dependencies are installed on first use.
		installOnce.Do(func() { installErr = npmCI(t) })
		if installErr != nil {
			missing("installing its npm dependencies failed: %v", installErr)
		}
	}
	if !depsInstalled() {
		missing("app/auth/interop/node_modules is incomplete; run `npm ci` in app/auth/interop")
	}
	return node
}

var (
	installOnce sync.Once
	installErr  error
)

func depsInstalled() bool {
	for _, dep := range []string{"better-auth", "better-sqlite3", "pg", "bcryptjs"} {
		if _, err := os.Stat(filepath.Join("node_modules", dep, "package.json")); err != nil {
			return false
		}
	}
	return true
}

func npmCI(t *testing.T) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is not installed: %w", err)
	}
	t.Logf("installing the interop test's npm dependencies (npm ci); this takes a few minutes once")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund").CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci: %w\n%s", err, out)
	}
	return nil
}

// process is a running server subprocess.
type process struct {
	name   string
	cmd    *exec.Cmd
	log    *servertest.LogBuffer
	exited chan struct{}
	err    error // valid once exited is closed
}

// start runs cmd and kills it when the test ends; on failure its output is
// logged.
func start(t *testing.T, name string, cmd *exec.Cmd, log *servertest.LogBuffer) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, log: log, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not exit after kill", name)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.log.String())
		}
	})
	return p
}

func (p *process) dead() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.log.String())
	default:
		return nil
	}
}

// env is one engine's pair of servers on a shared database.
type env struct {
	dbURL   string
	todoBin string
	todoEnv []string
	todo    string // todo's base URL
	ba      string // Better Auth's base URL
}

func setup(t *testing.T, d database.Dialect, node string) *env {
	t.Helper()
	bin := servertest.TodoBinary(t)
	dbURL := dbtest.NewURL(t, d)
	work := t.TempDir() // cwd without a config.yaml

	todoPort := servertest.FreePort(t)
	e := &env{dbURL: dbURL, todoBin: bin, todo: fmt.Sprintf("http://127.0.0.1:%d", todoPort)}
	e.todoEnv = append(servertest.CleanEnv("NODE_ENV=", "NODE_OPTIONS="),
		"TODO_DATABASE_URL="+dbURL,
		"BETTER_AUTH_SECRET="+secret,
		"TODO_SERVER_ADDR="+fmt.Sprintf("127.0.0.1:%d", todoPort),
		"TODO_SERVER_PUBLIC_URL="+e.todo,
		"TODO_RATELIMIT_ENABLED=false",
		"TODO_AUTH_BCRYPT_COST=4",
	)

	// todo first: it creates the schema Better Auth must accept unchanged.
	tlog := &servertest.LogBuffer{}
	cmd := exec.Command(bin, "serve")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = work, e.todoEnv, tlog, tlog
	tp := start(t, "todo serve", cmd, tlog)
	waitHealthy(t, tp, e.todo+"/health")

	baPort := servertest.FreePort(t)
	e.ba = fmt.Sprintf("http://127.0.0.1:%d", baPort)
	nodeDB := dbURL
	if d == database.SQLite {
		nodeDB = "sqlite:" + strings.TrimPrefix(dbURL, "sqlite://")
	}
	nlog := &servertest.LogBuffer{}
	script, err := filepath.Abs("better-auth-server.mjs")
	if err != nil {
		t.Fatal(err)
	}
	ncmd := exec.Command(node, script)
	ncmd.Dir = filepath.Dir(script)
	ncmd.Env = append(servertest.CleanEnv("NODE_ENV=", "NODE_OPTIONS="),
		"DATABASE="+nodeDB,
		"BETTER_AUTH_SECRET="+secret,
		"PORT="+strconv.Itoa(baPort),
		"BASE_URL="+e.ba,
	)
	ncmd.Stderr = nlog
	stdout, err := ncmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	np := start(t, "better-auth-server", ncmd, nlog)
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			fmt.Fprintln(nlog, sc.Text())
			if !signalled && strings.TrimSpace(sc.Text()) == "listening" {
				signalled = true
				close(listening)
			}
		}
	}()
	select {
	case <-listening:
	case <-np.exited:
		t.Fatal(np.dead())
	case <-time.After(startLimit):
		t.Fatalf("better-auth-server did not print \"listening\" within %s\n%s", startLimit, nlog.String())
	}
	return e
}

func waitHealthy(t *testing.T, p *process, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startLimit)
	var last string
	for time.Now().Before(deadline) {
		if err := p.dead(); err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s not 200 within %s (last: %s)\n%s", url, startLimit, last, p.log.String())
}

// reply is an HTTP response read in full.
type reply struct {
	req    string
	status int
	header http.Header
	body   []byte
	cookie string // value of the session cookie set, if any
}

func (r reply) String() string {
	return fmt.Sprintf("%s -> %d %s", r.req, r.status, bytes.TrimSpace(r.body))
}

var client = &http.Client{
	Timeout: 20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// call sends a request; body (if not nil) is sent as JSON, cookie (if not
// empty) as the session cookie, origin (if not empty) as Origin.
func call(t *testing.T, method, url string, body any, cookie, origin string) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if cookie != "" {
		req.Header.Set("Cookie", cookieName+"="+cookie)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	r := reply{req: method + " " + url, status: resp.StatusCode, header: resp.Header, body: data}
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && c.Value != "" && c.MaxAge >= 0 {
			r.cookie = c.Value
		}
	}
	return r
}

func expectStatus(t *testing.T, r reply, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s\nwant status %d", r, want)
	}
}

// sessionUser decodes {"user":{"id","email"}} from either server's session
// responses; ok is false for Better Auth's null and todo's {"user":null}.
func sessionUser(t *testing.T, r reply) (id, email string, ok bool) {
	t.Helper()
	var v *struct {
		User *struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"user"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s\nresponse is not JSON: %v", r, err)
	}
	if v == nil || v.User == nil {
		return "", "", false
	}
	return v.User.ID, v.User.Email, true
}

type user struct {
	name, email, password string
}

// Better Auth's endpoints.

func (e *env) baSignUp(t *testing.T, u user) reply {
	t.Helper()
	return call(t, "POST", e.ba+"/api/auth/sign-up/email",
		map[string]string{"name": u.name, "email": u.email, "password": u.password}, "", e.ba)
}

func (e *env) baSignIn(t *testing.T, email, password string) reply {
	t.Helper()
	return call(t, "POST", e.ba+"/api/auth/sign-in/email",
		map[string]string{"email": email, "password": password}, "", e.ba)
}

func (e *env) baSession(t *testing.T, cookie string) reply {
	t.Helper()
	return call(t, "GET", e.ba+"/api/auth/get-session", nil, cookie, "")
}

func (e *env) baSignOut(t *testing.T, cookie string) reply {
	t.Helper()
	return call(t, "POST", e.ba+"/api/auth/sign-out", map[string]string{}, cookie, e.ba)
}

// todo's native endpoints.

func (e *env) todoSignUp(t *testing.T, u user) reply {
	t.Helper()
	return call(t, "POST", e.todo+"/api/auth/signup",
		map[string]string{"name": u.name, "email": u.email, "password": u.password}, "", "")
}

func (e *env) todoLogin(t *testing.T, email, password string) reply {
	t.Helper()
	return call(t, "POST", e.todo+"/api/auth/login",
		map[string]string{"email": email, "password": password}, "", "")
}

func (e *env) todoSession(t *testing.T, cookie string) reply {
	t.Helper()
	return call(t, "GET", e.todo+"/api/auth/session", nil, cookie, "")
}

func (e *env) todoLogout(t *testing.T, cookie string) reply {
	t.Helper()
	return call(t, "POST", e.todo+"/api/auth/logout", nil, cookie, e.todo)
}

// createUser runs `todo create-user` on the shared database.
func (e *env) createUser(t *testing.T, u user) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.todoBin, "create-user", "--email", u.email, "--name", u.name, "--password-stdin")
	cmd.Dir = t.TempDir()
	cmd.Env = e.todoEnv
	cmd.Stdin = strings.NewReader(u.password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("todo create-user --email %s: %v\n%s", u.email, err, out)
	}
}

// signedIn checks that r is a successful sign-in/sign-up with a session
// cookie for email, and returns the user id and cookie.
func signedIn(t *testing.T, r reply, want int, email string) (id, cookie string) {
	t.Helper()
	expectStatus(t, r, want)
	id, got, ok := sessionUser(t, r)
	if !ok || got != email {
		t.Fatalf("%s\nwant user %s", r, email)
	}
	if r.cookie == "" {
		t.Fatalf("%s\nno %s cookie set; Set-Cookie: %q", r, cookieName, r.header.Values("Set-Cookie"))
	}
	return id, r.cookie
}

// expectUser checks that a session response names the user id.
func expectUser(t *testing.T, r reply, id, email string) {
	t.Helper()
	expectStatus(t, r, http.StatusOK)
	gotID, gotEmail, ok := sessionUser(t, r)
	if !ok || gotID != id || gotEmail != email {
		t.Fatalf("%s\nwant user %s (%s)", r, id, email)
	}
}

func TestBetterAuthInterop(t *testing.T) {
	node := requireNode(t)
	servertest.TodoBinary(t) // once, before the engines run side by side
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := setup(t, d, node)
			runChecks(t, e)
		})
	}
}

func runChecks(t *testing.T, e *env) {
	t.Run("better-auth user and session work on todo", func(t *testing.T) {
		u := user{"Ada BA", "ada.ba@example.com", "correct horse battery"}
		id, cookie := signedIn(t, e.baSignUp(t, u), http.StatusOK, u.email)

		expectUser(t, e.todoSession(t, cookie), id, u.email)

		// Better Auth stored a scrypt hash; todo must verify it.
		loginID, _ := signedIn(t, e.todoLogin(t, u.email, u.password), http.StatusOK, u.email)
		if loginID != id {
			t.Fatalf("todo login returned user %s, Better Auth signed up %s", loginID, id)
		}
		expectStatus(t, e.todoLogin(t, u.email, u.password+"!"), http.StatusUnauthorized)

		// todo may have upgraded the hash to bcrypt on that login; Better
		// Auth must still accept the password either way.
		signedIn(t, e.baSignIn(t, u.email, u.password), http.StatusOK, u.email)
	})

	t.Run("todo signup works on better auth", func(t *testing.T) {
		u := user{"Bob Todo", "bob.todo@example.com", "todo-password-42"}
		id, cookie := signedIn(t, e.todoSignUp(t, u), http.StatusCreated, u.email)

		expectUser(t, e.baSession(t, cookie), id, u.email)

		baID, _ := signedIn(t, e.baSignIn(t, u.email, u.password), http.StatusOK, u.email)
		if baID != id {
			t.Fatalf("Better Auth signed in user %s, todo signed up %s", baID, id)
		}
		expectStatus(t, e.baSignIn(t, u.email, u.password+"!"), http.StatusUnauthorized)
	})

	t.Run("todo create-user signs in on better auth", func(t *testing.T) {
		u := user{"Cy Admin", "cy.cli@example.com", "created-on-the-cli"}
		e.createUser(t, u)
		signedIn(t, e.baSignIn(t, u.email, u.password), http.StatusOK, u.email)
		expectStatus(t, e.baSignIn(t, u.email, "created-on-the-clI"), http.StatusUnauthorized)
	})

	t.Run("password over 72 bytes keeps every character", func(t *testing.T) {
		long := strings.Repeat("é", 90) // 90 characters, 180 UTF-8 bytes
		u := user{"Dee Long", "dee.long@example.com", long}
		signedIn(t, e.todoSignUp(t, u), http.StatusCreated, u.email)

		signedIn(t, e.baSignIn(t, u.email, long), http.StatusOK, u.email)
		changed := strings.Repeat("é", 89) + "e"
		expectStatus(t, e.baSignIn(t, u.email, changed), http.StatusUnauthorized)
		expectStatus(t, e.todoLogin(t, u.email, changed), http.StatusUnauthorized)
	})

	t.Run("sign-out on better auth ends the session on todo", func(t *testing.T) {
		u := user{"Eve Out", "eve.out@example.com", "signing-out-soon"}
		id, _ := signedIn(t, e.baSignUp(t, u), http.StatusOK, u.email)
		_, cookie := signedIn(t, e.baSignIn(t, u.email, u.password), http.StatusOK, u.email)
		expectUser(t, e.todoSession(t, cookie), id, u.email)

		expectStatus(t, e.baSignOut(t, cookie), http.StatusOK)

		// todo caches sessions and learns of one ended by another program
		// from the auth change log within its 200 ms poll (docs/auth.md).
		deadline := time.Now().Add(3 * time.Second)
		for {
			r := e.todoSession(t, cookie)
			expectStatus(t, r, http.StatusOK)
			var v map[string]any
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatalf("%s\nresponse is not JSON: %v", r, err)
			}
			gotUser, hasUser := v["user"]
			gotSession, hasSession := v["session"]
			if hasUser && hasSession && gotUser == nil && gotSession == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s\nwant {\"user\":null,\"session\":null} within 3 s of Better Auth's sign-out", r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("logout on todo ends the session on better auth", func(t *testing.T) {
		u := user{"Fay Out", "fay.out@example.com", "logging-out-soon"}
		id, _ := signedIn(t, e.todoSignUp(t, u), http.StatusCreated, u.email)
		_, cookie := signedIn(t, e.todoLogin(t, u.email, u.password), http.StatusOK, u.email)
		expectUser(t, e.baSession(t, cookie), id, u.email)

		expectStatus(t, e.todoLogout(t, cookie), http.StatusOK)

		r := e.baSession(t, cookie)
		expectStatus(t, r, http.StatusOK)
		if string(bytes.TrimSpace(r.body)) != "null" {
			t.Fatalf("%s\nwant null after todo's logout", r)
		}
		// And todo agrees.
		if _, _, ok := sessionUser(t, e.todoSession(t, cookie)); ok {
			t.Fatalf("todo still accepts the session after its own logout")
		}
	})
}
