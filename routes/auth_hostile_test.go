package routes_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/server/servertest"
)

// Hostile-input tests of every auth endpoint, on both engines. Identifiers
// carry a "hostile" prefix because other files of this package are written
// independently.

const (
	hostileCookie       = "better-auth.session_token"
	hostileSecureCookie = "__Secure-" + hostileCookie
	hostilePW           = "Correct-Horse-Battery-9"
	hostileEvil         = "https://evil.example"
	hostileWeek         = 604800
	hostileTokenRows    = `SELECT count(*) FROM "session" WHERE "token" = ?`
	hostileUserSessions = `SELECT count(*) FROM "session" WHERE "userId" = ?`
	hostileUsers        = `SELECT count(*) FROM "user"`
)

// hostileEnv is one running server and every response it gave, none of
// which may reveal a password, a password hash or the secret.
type hostileEnv struct {
	srv     *servertest.Server
	mu      sync.Mutex
	seen    []string // request line, then the whole response
	secrets []string
	n       atomic.Int64
}

// hostileRun runs fn in parallel on a fresh server per engine.
func hostileRun(t *testing.T, mutate func(*config.Config), fn func(t *testing.T, e *hostileEnv)) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := &hostileEnv{srv: servertest.Start(t, d, mutate), secrets: []string{servertest.Secret}}
			t.Cleanup(func() { e.checkLeaks(t) })
			fn(t, e)
		})
	}
}

// forbid records a password no response may contain and returns it.
func (e *hostileEnv) forbid(s string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Contains(e.secrets, s) {
		e.secrets = append(e.secrets, s)
	}
	return s
}

func (e *hostileEnv) email() string { return fmt.Sprintf("hostile%d@example.com", e.n.Add(1)) }

func (e *hostileEnv) checkLeaks(t *testing.T) {
	var hashes []string
	err := e.srv.DB.Read.NewRaw(`SELECT "password" FROM "account" WHERE "password" IS NOT NULL`).Scan(context.Background(), &hashes)
	if err != nil || len(hashes) == 0 {
		t.Errorf("load password hashes: %v (%d)", err, len(hashes))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	needles := slices.Clone(e.secrets)
	for _, h := range hashes {
		needles = append(needles, h, h[len(h)/2:])
	}
	for _, s := range e.seen {
		for _, n := range needles {
			if req, resp, _ := strings.Cut(s, "\n"); strings.Contains(resp, n) {
				t.Errorf("%s: response reveals a password, hash or the secret (%.12q...)", req, n)
			}
		}
	}
}

func (e *hostileEnv) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.srv.DB.Read.NewRaw(query, args...).Scan(context.Background(), &n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// hostileClient is a browser-like client whose responses are recorded.
type hostileClient struct {
	*servertest.Client
	e *hostileEnv
	t *testing.T
}

func (e *hostileEnv) client(t *testing.T) *hostileClient {
	return &hostileClient{e.srv.Client(t), e, t}
}

// do sends a request; no hostile input may ever cause a 5xx.
func (c *hostileClient) do(method, path string, body any, hdr map[string]string) *servertest.Response {
	c.t.Helper()
	r := c.Request(method, path, body, hdr)
	var dump strings.Builder
	fmt.Fprintf(&dump, "%s %s\n", method, path)
	_ = r.Header.Write(&dump)
	dump.Write(r.Body)
	c.e.mu.Lock()
	c.e.seen = append(c.e.seen, dump.String())
	c.e.mu.Unlock()
	if r.Status >= 500 {
		c.t.Errorf("%s %s: %d %.300s", method, path, r.Status, r.Body)
	}
	return r
}

type hostileUser struct{ id, email, password, token string }

// signUp makes an account through the native endpoint; c keeps its cookie.
func (c *hostileClient) signUp() hostileUser {
	c.t.Helper()
	u := hostileUser{email: c.e.email(), password: c.e.forbid(hostilePW)}
	r := c.do("POST", "/api/auth/signup", hostileCreds("Hostile", u.email, u.password), nil)
	if r.Status != 201 {
		c.t.Fatalf("sign up: %d %s", r.Status, r.Body)
	}
	u.id, u.token = hostileStr(r.JSON(), "user", "id"), hostileStr(r.JSON(), "token")
	return u
}

// who is the id of the signed-in user per GET /api/auth/session ("" when
// signed out), after checking that GET /api/auth/get-session agrees.
func (c *hostileClient) who(hdr map[string]string) string {
	c.t.Helper()
	r := c.do("GET", "/api/auth/session", nil, hdr)
	m := r.JSON()
	if r.Status != 200 || m == nil {
		c.t.Fatalf("GET /api/auth/session: %d %s", r.Status, r.Body)
	}
	id := hostileStr(m, "user", "id")
	if id == "" && (len(m) != 2 || m["user"] != nil || m["session"] != nil) {
		c.t.Errorf("signed-out session body: %s", r.Body)
	}
	ba := c.do("GET", "/api/auth/get-session", nil, hdr)
	if ba.Status != 200 || hostileStr(ba.JSON(), "user", "id") != id || (id == "" && string(bytes.TrimSpace(ba.Body)) != "null") {
		c.t.Errorf("get-session disagrees with session (%q): %d %s", id, ba.Status, ba.Body)
	}
	return id
}

// who asks with a fresh, cookie-less client.
func (e *hostileEnv) who(t *testing.T, hdr map[string]string) string { return e.client(t).who(hdr) }

func hostileBearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

func hostileCookieHdr(name, value string) map[string]string {
	return map[string]string{"Cookie": name + "=" + value}
}

func hostileCreds(name, email, password string) map[string]string {
	m := map[string]string{"email": email, "password": password}
	if name != "" {
		m["name"] = name
	}
	return m
}

// hostileStr walks nested JSON objects and returns the string at the end, or "".
func hostileStr(v any, keys ...string) string {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

func hostileIsBA(path string) bool {
	return strings.Contains(path, "/sign-") || strings.HasSuffix(path, "/get-session")
}

// hostileCreated is the status of a successful sign-up on path.
func hostileCreated(path string) int { return map[bool]int{true: 200, false: 201}[hostileIsBA(path)] }

// hostileWant checks the status and, for errors, the family's error shape:
// Better Auth's {"message","code"} with a code among detail, or problem+json
// whose 422 names each of detail as a field. Empty details are ignored.
func hostileWant(t *testing.T, r *servertest.Response, path string, status int, detail ...string) bool {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d: %.300s", path, r.Status, status, r.Body)
		return false
	}
	detail = slices.DeleteFunc(detail, func(s string) bool { return s == "" })
	m := r.JSON()
	switch {
	case status < 400:
	case hostileIsBA(path):
		code := hostileStr(m, "code")
		if code == "" || hostileStr(m, "message") == "" || len(m) != 2 || (len(detail) > 0 && !slices.Contains(detail, code)) {
			t.Errorf("%s: body %s, want {message, code} with code in %v", path, r.Body, detail)
		}
	default:
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") ||
			m["status"] != float64(status) || hostileStr(m, "title") == "" || hostileStr(m, "type") == "" {
			t.Errorf("%s: not a problem+json body (%s): %s", path, ct, r.Body)
		}
		named := map[string]bool{}
		errs, _ := m["errors"].([]any)
		for _, fe := range errs {
			named[hostileStr(fe, "field")] = true
		}
		for _, f := range detail {
			if status == 422 && !named[f] {
				t.Errorf("%s: problem does not name field %q: %s", path, f, r.Body)
			}
		}
	}
	return true
}

// hostileSetCookie parses the raw Set-Cookie header for name, or is nil.
func hostileSetCookie(r *servertest.Response, name string) *http.Cookie {
	for _, line := range r.Header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == name {
			return c
		}
	}
	return nil
}

// hostileCheckCookie asserts Better Auth's attributes on the Set-Cookie for
// name (maxAge -1 means Max-Age=0) and returns its value.
func hostileCheckCookie(t *testing.T, r *servertest.Response, name string, maxAge int, secure bool) string {
	t.Helper()
	c := hostileSetCookie(r, name)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != maxAge || c.Secure != secure {
		t.Errorf("Set-Cookie %s in %q: want HttpOnly, SameSite=Lax, Path=/, Max-Age=%d, Secure=%v",
			name, r.Header.Values("Set-Cookie"), maxAge, secure)
		return ""
	}
	return c.Value
}

// hostileExpired asserts that r expires all three Better Auth cookies.
func hostileExpired(t *testing.T, r *servertest.Response, secure bool) {
	t.Helper()
	for _, name := range []string{"session_token", "session_data", "dont_remember"} {
		hostileCheckCookie(t, r, map[bool]string{true: "__Secure-"}[secure]+"better-auth."+name, -1, secure)
	}
}

// hostileSig is Better Auth's cookie signature, computed independently.
func hostileSig(secret, token string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(token))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// hostileForge joins a token and a signature as encodeURIComponent does for
// these characters (the signature's + / = become %2B %2F %3D).
func hostileForge(token, sig string) string { return url.QueryEscape(token + "." + sig) }

func hostileSign(secret, token string) string { return hostileForge(token, hostileSig(secret, token)) }

func TestHostileAuthBodies(t *testing.T) {
	hostileRun(t, nil, func(t *testing.T, e *hostileEnv) {
		pw := e.forbid(hostilePW)
		huge := e.forbid(strings.Repeat("p", 1<<20-300))
		const fresh = "$E" // replaced by a new email per request
		obj := func(name, email, password string) string {
			return `{"name":"` + name + `","email":"` + email + `","password":"` + password + `"}`
		}
		good := obj("A", fresh, pw)
		cases := []struct {
			name, ctype, body string // ctype "" sends application/json
			noBody            bool
			native            int
			fields            []string
			ba                int
			codes             []string
		}{
			{name: "malformed JSON", body: `{"name":"A","email":"$E","password":`, native: 400, ba: 400, codes: []string{"VALIDATION_ERROR"}},
			{name: "JSON array", body: "[" + good + "]", native: 400, ba: 400},
			{name: "JSON string", body: `"` + fresh + `"`, native: 400, ba: 400},
			{name: "JSON null", body: `null`, native: 400, ba: 400},
			{name: "trailing garbage", body: good + ` trailing`, native: 400, ba: 400},
			{name: "trailing second object", body: good + `{}`, native: 400, ba: 400},
			{name: "trailing closing brace", body: good + `}`, native: 400, ba: 400},
			{name: "trailing closing bracket", body: good + `]`, native: 400, ba: 400},
			{name: "empty JSON body", body: "", native: 400, ba: 400},
			{name: "no body", noBody: true, native: 415, ba: 415},
			{name: "text/plain", ctype: "text/plain", body: good, native: 415, ba: 415, codes: []string{"UNSUPPORTED_MEDIA_TYPE"}},
			{name: "form body", ctype: "application/x-www-form-urlencoded", body: "name=A&email=" + fresh + "&password=" + pw, native: 415, ba: 200},
			{name: "wrong types", body: `{"name":["A"],"email":1,"password":{"p":"x"}}`, native: 422, fields: []string{"name", "email", "password"}, ba: 400, codes: []string{"VALIDATION_ERROR"}},
			{name: "missing fields", body: `{}`, native: 422, fields: []string{"name", "email", "password"}, ba: 400, codes: []string{"VALIDATION_ERROR"}},
			{name: "null and missing", body: `{"name":null,"email":"$E"}`, native: 422, fields: []string{"name", "password"}, ba: 400, codes: []string{"VALIDATION_ERROR"}},
			{name: "name of 101 characters", body: obj(strings.Repeat("n", 101), fresh, pw), native: 422, fields: []string{"name"}, ba: 400},
			{name: "email over 254 characters", body: obj("A", strings.Repeat("a", 243)+"@example.com", pw), native: 422, fields: []string{"email"}, ba: 400, codes: []string{"INVALID_EMAIL", "VALIDATION_ERROR"}},
			{name: "password of 7 characters", body: obj("A", fresh, "Sh0rt-7"), native: 422, fields: []string{"password"}, ba: 400, codes: []string{"PASSWORD_TOO_SHORT"}},
			{name: "password of 129 characters", body: obj("A", fresh, strings.Repeat("q", 129)), native: 422, fields: []string{"password"}, ba: 400, codes: []string{"PASSWORD_TOO_LONG"}},
			{name: "near 1 MiB password", body: obj("A", fresh, huge), native: 422, fields: []string{"password"}, ba: 400, codes: []string{"PASSWORD_TOO_LONG"}},
			{name: "invalid UTF-8 in name", body: obj("A\xffB", fresh, pw), native: 422, ba: 400},
			{name: "invalid UTF-8 in password", body: obj("A", fresh, "pass\xc3\x28word"), native: 422, ba: 400},
			{name: "lone surrogate escape in name", body: obj(`A\ud800B`, fresh, pw), native: 422, fields: []string{"name"}, ba: 400},
			{name: "NUL in name", body: obj(`A\u0000B`, fresh, pw), native: 422, fields: []string{"name"}, ba: 400},
			{name: "BEL in name", body: obj(`A\u0007B`, fresh, pw), native: 422, fields: []string{"name"}, ba: 400},
			{name: "ANSI escape in name", body: obj(`A\u001b[31mB`, fresh, pw), native: 422, fields: []string{"name"}, ba: 400},
			{name: "DEL in name", body: obj(`A\u007fB`, fresh, pw), native: 422, fields: []string{"name"}, ba: 400},
			{name: "name of only spaces", body: obj("   ", fresh, pw), native: 422, fields: []string{"name"}, ba: 400},
			{name: "name of only white space", body: obj(`\t\n \u00a0`, fresh, pw), native: 422, fields: []string{"name"}, ba: 400},
			{name: "email with leading space", body: obj("A", " "+fresh, pw), native: 422, fields: []string{"email"}, ba: 400},
			{name: "email with trailing space", body: obj("A", fresh+" ", pw), native: 422, fields: []string{"email"}, ba: 400},
			{name: "email with NUL", body: obj("A", `a\u0000b@example.com`, pw), native: 422, fields: []string{"email"}, ba: 400},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for path, want := range map[string]int{"/api/auth/signup": tc.native, "/api/auth/sign-up/email": tc.ba} {
					var body any = strings.ReplaceAll(tc.body, fresh, e.email())
					if tc.noBody {
						body = nil
					}
					hdr := map[string]string{}
					if tc.ctype != "" {
						hdr["Content-Type"] = tc.ctype
					}
					detail := map[bool][]string{false: tc.fields, true: tc.codes}[hostileIsBA(path)]
					users, start := e.count(t, hostileUsers), time.Now()
					r := e.client(t).do("POST", path, body, hdr)
					if d := time.Since(start); d > 3*time.Second {
						t.Errorf("%s: took %v", path, d)
					}
					hostileWant(t, r, path, want, detail...)
					if set := hostileSetCookie(r, hostileCookie) != nil; r.Status >= 400 && (set || e.count(t, hostileUsers) != users) {
						t.Errorf("%s: refused request stored a user or set a cookie", path)
					}
				}
			})
		}

		t.Run("multi-byte limits", func(t *testing.T) {
			name, emoji := strings.Repeat("日", 100), e.forbid(strings.Repeat("🔐", 128))
			for _, path := range []string{"/api/auth/signup", "/api/auth/sign-up/email"} {
				email := e.email()
				r := e.client(t).do("POST", path, hostileCreds(name, email, emoji), nil)
				if hostileWant(t, r, path, hostileCreated(path)) && hostileStr(r.JSON(), "user", "name") != name {
					t.Errorf("%s: name %s", path, r.Body)
				}
				// Every character counts: no prefix beyond bcrypt's 72 bytes signs in.
				for pw, want := range map[string]int{emoji: 200, strings.Repeat("🔐", 127): 401, strings.Repeat("🔐", 18): 401,
					strings.Repeat("🔐", 127) + "🔑": 401} {
					hostileWant(t, e.client(t).do("POST", "/api/auth/login", hostileCreds("", email, e.forbid(pw)), nil), "/api/auth/login", want)
				}
			}
			// Nor does a NUL byte end the password, as it would for C's bcrypt.
			email, nul := e.email(), e.forbid("Hostile\x00Password-1")
			hostileWant(t, e.client(t).do("POST", "/api/auth/signup", hostileCreds("N", email, nul), nil), "/api/auth/signup", 201)
			for pw, want := range map[string]int{nul: 200, "Hostile\x00Password-2": 401, "Hostile": 401} {
				hostileWant(t, e.client(t).do("POST", "/api/auth/login", hostileCreds("", email, e.forbid(pw)), nil), "/api/auth/login", want)
			}
		})

		t.Run("hostile names round-trip byte-exact", func(t *testing.T) {
			names := []string{`'; DROP TABLE "user"; --`, `<script>alert(1)</script>`, `Robert'); DELETE FROM "session";--`,
				"  padded  ", "\u202egnp.exe", `\u0000 as text`, "%00%27", "Zoë 🚀 ﷽"}
			for i, name := range names {
				path := []string{"/api/auth/signup", "/api/auth/sign-up/email"}[i%2]
				c, email := e.client(t), e.email()
				hostileWant(t, c.do("POST", path, hostileCreds(name, email, pw), nil), path, hostileCreated(path))
				for _, get := range []string{"/api/auth/session", "/api/auth/get-session"} {
					if got := hostileStr(c.do("GET", get, nil, nil).JSON(), "user", "name"); got != name {
						t.Errorf("%s: name %q, want %q", get, got, name)
					}
				}
				if n := e.count(t, `SELECT count(*) FROM "user" WHERE "name" = ? AND "email" = ?`, name, email); n != 1 {
					t.Errorf("stored name differs from %q", name)
				}
			}
			if e.count(t, `SELECT count(*) FROM "session"`) == 0 {
				t.Error("session table emptied")
			}
		})

		t.Run("email case", func(t *testing.T) {
			lower := e.email()
			mixed := strings.ToUpper(lower[:4]) + lower[4:len(lower)-3] + "COM"
			r := e.client(t).do("POST", "/api/auth/signup", hostileCreds("Case", mixed, pw), nil)
			if hostileWant(t, r, "/api/auth/signup", 201) && hostileStr(r.JSON(), "user", "email") != lower {
				t.Errorf("email not lower-cased: %s", r.Body)
			}
			if n := e.count(t, `SELECT count(*) FROM "user" WHERE "email" = ?`, lower); n != 1 {
				t.Errorf("stored lower-case email rows = %d", n)
			}
			for _, path := range []string{"/api/auth/login", "/api/auth/sign-in/email"} {
				for _, as := range []string{lower, mixed, strings.ToUpper(lower)} {
					hostileWant(t, e.client(t).do("POST", path, hostileCreds("", as, pw), nil), path, 200)
				}
			}
			dup := hostileCreds("Dup", strings.ToUpper(lower), pw)
			hostileWant(t, e.client(t).do("POST", "/api/auth/signup", dup, nil), "/api/auth/signup", 409)
			hostileWant(t, e.client(t).do("POST", "/api/auth/sign-up/email", dup, nil), "/api/auth/sign-up/email", 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL")
		})
	})
}

func TestHostileAuthCredentials(t *testing.T) {
	hostileRun(t, nil, func(t *testing.T, e *hostileEnv) {
		u := e.client(t).signUp()
		unknown, wrong := e.email(), e.forbid("Wrong-Password-42")
		attempts := []struct{ name, email, password string }{
			{"unknown email", unknown, u.password},
			{"wrong password", u.email, wrong},
			{"wrong password, upper-case email", strings.ToUpper(u.email), wrong},
			{"unknown email and wrong password", unknown, wrong},
			{"near 1 MiB password", u.email, e.forbid(strings.Repeat("w", 1<<20-200))},
		}
		for _, path := range []string{"/api/auth/login", "/api/auth/sign-in/email"} {
			t.Run(path, func(t *testing.T) {
				var first *servertest.Response
				for _, a := range attempts {
					start := time.Now()
					r := e.client(t).do("POST", path, hostileCreds("", a.email, a.password), nil)
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("%s: took %v", a.name, d)
					}
					hostileWant(t, r, path, 401, "INVALID_EMAIL_OR_PASSWORD")
					if hostileSetCookie(r, hostileCookie) != nil {
						t.Errorf("%s: failed sign-in set a cookie", a.name)
					}
					if first == nil {
						first = r
					} else if !bytes.Equal(r.Body, first.Body) || r.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
						t.Errorf("%s: %s differs from %s", a.name, r.Body, first.Body)
					}
				}
				if hostileIsBA(path) && hostileStr(first.JSON(), "message") != "Invalid email or password" {
					t.Errorf("message: %s", first.Body)
				}
			})
		}
	})
}

func TestHostileAuthTampering(t *testing.T) {
	hostileRun(t, nil, func(t *testing.T, e *hostileEnv) {
		u, other := e.client(t).signUp(), e.client(t).signUp()
		valid, sig := hostileSign(servertest.Secret, u.token), hostileSig(servertest.Secret, u.token)
		flipped := []byte(sig)
		flipped[10] = map[bool]byte{true: 'B', false: 'A'}[flipped[10] == 'A']
		forged := hostileForge(u.token, string(flipped))

		if e.who(t, hostileCookieHdr(hostileCookie, valid)) != u.id {
			t.Fatal("a valid signed cookie must authenticate")
		}
		for name, value := range map[string]string{
			"flipped signature character":           forged,
			"raw token without signature":           u.token,
			"raw token and a dot":                   u.token + ".",
			"signed with another secret":            hostileSign("another-secret-0123456789-abcdefghijklmnop", u.token),
			"signature of a different token":        hostileForge(u.token, hostileSig(servertest.Secret, other.token)),
			"signature without padding":             hostileForge(u.token, strings.TrimRight(sig, "=")),
			"truncated value":                       valid[:len(valid)-4],
			"truncated token":                       valid[3:],
			"empty value":                           "",
			"4 KB garbage":                          strings.Repeat("A", 4096),
			"4 KB garbage with a dot":               strings.Repeat("A", 2048) + "." + strings.Repeat("B", 2047),
			"percent-encoding garbage":              "%zz",
			"percent-encoding garbage before value": "%zz" + valid,
			"double-encoded value":                  url.QueryEscape(valid),
			"signed empty token":                    hostileSign(servertest.Secret, ""),
		} {
			t.Run("cookie/"+name, func(t *testing.T) {
				hdr := hostileCookieHdr(hostileCookie, value)
				if got := e.who(t, hdr); got != "" {
					t.Fatalf("authenticated as %q", got)
				}
				hostileWant(t, e.client(t).do("POST", "/api/auth/refresh", nil, hdr), "/api/auth/refresh", 401)
			})
		}

		for name, header := range map[string]string{"raw token": "Bearer " + u.token, "signed token": "Bearer " + valid, "lower-case scheme": "bearer " + u.token} {
			if got := e.who(t, map[string]string{"Authorization": header}); got != u.id {
				t.Errorf("Authorization with %s: authenticated as %q", name, got)
			}
		}
		if got := e.who(t, map[string]string{"Authorization": "Basic xyz"}); got != "" {
			t.Errorf("Authorization: Basic authenticated as %q", got)
		}
		// A present Authorization header wins over the (valid) cookie, whether
		// or not it verifies (routes/authn.go, credential).
		for name, header := range map[string]string{
			"forged signed token":       "Bearer " + forged,
			"raw token and a dot":       "Bearer " + u.token + ".",
			"Bearer without credential": "Bearer",
			"two credentials":           "Bearer " + u.token + " " + other.token,
			"two Bearer values":         "Bearer " + u.token + ", Bearer " + other.token,
			"unknown raw token":         "Bearer " + strings.Repeat("A", 32),
			"4 KB raw token":            "Bearer " + strings.Repeat("A", 4096),
			"percent-encoding garbage":  "Bearer %zz",
		} {
			t.Run("authorization/"+name, func(t *testing.T) {
				if got := e.who(t, map[string]string{"Authorization": header, "Cookie": hostileCookie + "=" + valid}); got != "" {
					t.Fatalf("authenticated as %q", got)
				}
			})
		}

		t.Run("deleted user", func(t *testing.T) {
			w := e.client(t).signUp()
			if _, err := e.srv.DB.Write.ExecContext(context.Background(), `DELETE FROM "user" WHERE "id" = ?`, w.id); err != nil {
				t.Fatal(err)
			}
			if e.who(t, hostileCookieHdr(hostileCookie, hostileSign(servertest.Secret, w.token))) != "" || e.who(t, hostileBearer(w.token)) != "" {
				t.Error("a deleted user's session still authenticates")
			}
			if n := e.count(t, hostileUserSessions, w.id); n != 0 {
				t.Errorf("%d sessions of the deleted user remain (no ON DELETE CASCADE?)", n)
			}
		})

		// Last: moving the clock expires every session of this server.
		t.Run("expired session", func(t *testing.T) {
			c := e.client(t)
			x := c.signUp()
			e.srv.Clock.Advance(e.srv.Config.Auth.SessionTTL + time.Minute)
			r := c.do("GET", "/api/auth/session", nil, nil)
			if hostileStr(r.JSON(), "user", "id") != "" {
				t.Fatalf("expired session still authenticates: %s", r.Body)
			}
			hostileCheckCookie(t, r, hostileCookie, -1, false)
			if e.who(t, hostileBearer(u.token)) != "" {
				t.Error("expired bearer token authenticates")
			}
			if e.count(t, hostileTokenRows, x.token) != 0 || e.count(t, hostileTokenRows, u.token) != 0 {
				t.Error("expired session rows remain in the database")
			}
		})
	})
}

func TestHostileAuthOrigin(t *testing.T) {
	const trusted = "https://app.example"
	const logout, refresh, signOut = "/api/auth/logout", "/api/auth/refresh", "/api/auth/sign-out"
	hostileRun(t, func(c *config.Config) { c.Server.TrustedOrigins = []string{trusted} }, func(t *testing.T, e *hostileEnv) {
		self := e.srv.URL
		origin := func(o string) map[string]string { return map[string]string{"Origin": o} }
		referer := func(r string) map[string]string { return map[string]string{"Origin": "", "Referer": r} }
		cases := []struct {
			name, path string
			hdr        map[string]string
			want       int
			code       string
		}{
			{"logout without Origin or Referer", logout, origin(""), 403, ""},
			{"refresh without Origin or Referer", refresh, origin(""), 403, ""},
			{"logout from evil origin", logout, origin(hostileEvil), 403, ""},
			{"refresh from evil origin", refresh, origin(hostileEvil), 403, ""},
			{"logout with Origin null", logout, origin("null"), 403, ""},
			{"refresh with evil Referer", refresh, referer(hostileEvil + "/x"), 403, ""},
			{"refresh from look-alike origin", refresh, origin(self + ".evil.example"), 403, ""},
			{"refresh from https twin of own origin", refresh, origin(strings.Replace(self, "http:", "https:", 1)), 403, ""},
			{"refresh with own Referer", refresh, referer(self + "/tasks?q=1"), 200, ""},
			{"logout with own Referer", logout, referer(self + "/"), 200, ""},
			{"refresh from trusted origin", refresh, origin(trusted), 200, ""},
			{"logout from own origin", logout, nil, 200, ""},
			{"sign-out without Origin", signOut, origin(""), 403, "MISSING_OR_NULL_ORIGIN"},
			{"sign-out from evil origin", signOut, origin(hostileEvil), 403, "INVALID_ORIGIN"},
			{"sign-out with Origin null", signOut, origin("null"), 403, "MISSING_OR_NULL_ORIGIN"},
			{"sign-out from trusted origin", signOut, origin(trusted), 200, ""},
			{"sign-out from own origin", signOut, nil, 200, ""},
		}
		for _, tc := range cases {
			t.Run("cookie/"+tc.name, func(t *testing.T) {
				c := e.client(t)
				u := c.signUp()
				hostileWant(t, c.do("POST", tc.path, nil, tc.hdr), tc.path, tc.want, tc.code)
				switch {
				case tc.want == 403 && c.who(nil) != u.id:
					t.Error("session lost after a refused request")
				case tc.want == 200 && tc.path == refresh && (e.who(t, hostileBearer(u.token)) != "" || c.who(nil) != u.id):
					t.Error("refresh did not rotate the session")
				case tc.want == 200 && tc.path != refresh && e.count(t, hostileTokenRows, u.token) != 0:
					t.Error("sign-out left the session row")
				}
			})
		}

		t.Run("bearer requests are exempt", func(t *testing.T) {
			for _, path := range []string{refresh, logout, signOut} {
				u := e.client(t).signUp()
				hostileWant(t, e.client(t).do("POST", path, nil, map[string]string{"Origin": "", "Authorization": "Bearer " + u.token}), path, 200)
			}
		})

		u := e.client(t).signUp()
		signCases := []struct {
			name string
			hdr  map[string]string
			ok   bool
		}{
			{"evil Origin", origin(hostileEvil), false},
			{"Origin null", origin("null"), false},
			{"evil Referer only", referer(hostileEvil + "/login"), false},
			{"cross-site navigation", map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, false},
			{"cross-site navigation with own Origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, false},
			{"Sec-Fetch cross-site without Origin", map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, false},
			{"non-browser client", origin(""), true},
			{"own Origin", nil, true},
			{"same-origin fetch", map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, true},
			{"own Referer only", referer(self + "/login"), true},
			{"trusted Origin", origin(trusted), true},
		}
		for _, tc := range signCases {
			t.Run("sign-in/"+tc.name, func(t *testing.T) {
				for _, path := range []string{"/api/auth/signup", "/api/auth/login", "/api/auth/sign-up/email", "/api/auth/sign-in/email"} {
					body, want := hostileCreds("", u.email, u.password), 200
					if strings.Contains(path, "up") {
						body, want = hostileCreds("New", e.email(), u.password), hostileCreated(path)
					}
					if !tc.ok {
						want = 403
					}
					r := e.client(t).do("POST", path, body, tc.hdr)
					hostileWant(t, r, path, want)
					if set := hostileSetCookie(r, hostileCookie) != nil; set != tc.ok {
						t.Errorf("%s: Set-Cookie present = %v", path, set)
					}
				}
			})
		}
	})
}

func TestHostileAuthSessions(t *testing.T) {
	hostileRun(t, nil, func(t *testing.T, e *hostileEnv) {
		t.Run("cookie attributes", func(t *testing.T) { hostileCookieFlow(t, e, e.srv.URL, false) })

		t.Run("planted cookie is replaced at sign-in", func(t *testing.T) {
			attacker, victim := e.client(t).signUp(), e.client(t).signUp()
			planted := []string{hostileSign(servertest.Secret, attacker.token), attacker.token, "planted-by-attacker",
				hostileSign(servertest.Secret, victim.token)}
			for i, p := range planted {
				path := []string{"/api/auth/login", "/api/auth/sign-in/email"}[i%2]
				c := e.client(t)
				c.SetCookie(hostileCookie, p)
				r := c.do("POST", path, hostileCreds("", victim.email, victim.password), nil)
				hostileWant(t, r, path, 200)
				tok := hostileStr(r.JSON(), "token")
				if tok == "" || strings.Contains(p, tok) || tok == attacker.token || tok == victim.token {
					t.Errorf("%s: sign-in kept a planted session (token %q)", path, tok)
				}
				if c.Cookie(hostileCookie) != hostileSign(servertest.Secret, tok) || c.who(nil) != victim.id {
					t.Errorf("%s: not signed in as the victim with the new token", path)
				}
			}
			if got := e.who(t, hostileBearer(attacker.token)); got != attacker.id {
				t.Errorf("attacker's planted session now belongs to %q", got)
			}
		})

		t.Run("refresh rotates", func(t *testing.T) {
			c := e.client(t)
			u := c.signUp()
			r := c.do("POST", "/api/auth/refresh", nil, nil)
			next := hostileStr(r.JSON(), "token")
			if !hostileWant(t, r, "/api/auth/refresh", 200) || next == "" || next == u.token || hostileStr(r.JSON(), "user", "id") != u.id {
				t.Fatalf("refresh: %s", r.Body)
			}
			hostileCheckCookie(t, r, hostileCookie, hostileWeek, false)
			if e.who(t, hostileBearer(u.token)) != "" || e.who(t, hostileCookieHdr(hostileCookie, hostileSign(servertest.Secret, u.token))) != "" {
				t.Error("old token still works after refresh")
			}
			if e.count(t, hostileTokenRows, u.token) != 0 {
				t.Error("old session row remains")
			}
			if c.who(nil) != u.id || e.who(t, hostileBearer(next)) != u.id {
				t.Error("new token does not work")
			}
			hostileWant(t, e.client(t).do("POST", "/api/auth/refresh", nil, hostileBearer(u.token)), "/api/auth/refresh", 401)
		})

		t.Run("logins are separate sessions", func(t *testing.T) {
			u := e.client(t).signUp()
			c1, c2 := e.client(t), e.client(t)
			t1 := hostileStr(c1.do("POST", "/api/auth/login", hostileCreds("", u.email, u.password), nil).JSON(), "token")
			t2 := hostileStr(c2.do("POST", "/api/auth/sign-in/email", hostileCreds("", u.email, u.password), nil).JSON(), "token")
			if t1 == "" || t2 == "" || t1 == t2 || t1 == u.token || t2 == u.token {
				t.Fatalf("tokens %q %q %q are not three sessions", u.token, t1, t2)
			}
			if c1.who(nil) != u.id || c2.who(nil) != u.id || e.count(t, hostileUserSessions, u.id) != 3 {
				t.Fatal("both logins must work, beside the sign-up's session")
			}
			hostileWant(t, c1.do("POST", "/api/auth/logout", nil, nil), "/api/auth/logout", 200)
			if c1.who(nil) != "" || e.who(t, hostileBearer(t1)) != "" {
				t.Error("logged-out session still works")
			}
			if c2.who(nil) != u.id || e.who(t, hostileBearer(u.token)) != u.id || e.count(t, hostileUserSessions, u.id) != 2 {
				t.Error("logout ended another session")
			}
		})
	})
}

func TestHostileAuthSliding(t *testing.T) {
	hostileRun(t, nil, func(t *testing.T, e *hostileEnv) {
		c := e.client(t)
		u := c.signUp()
		signed, ttl := hostileSign(servertest.Secret, u.token), e.srv.Config.Auth.SessionTTL
		if ttl != 168*time.Hour || e.srv.Config.Auth.UpdateAge != 24*time.Hour {
			t.Fatalf("defaults changed: ttl %v update_age %v", ttl, e.srv.Config.Auth.UpdateAge)
		}
		// get sends path after advancing the clock by d and returns the
		// session's expiry; with refresh it expects the same token's cookie
		// again with a full lifetime, else no cookie at all.
		get := func(d time.Duration, path string, refresh bool, expiry ...string) time.Time {
			t.Helper()
			e.srv.Clock.Advance(d)
			r := c.do("GET", path, nil, nil)
			if hostileStr(r.JSON(), "user", "id") != u.id {
				t.Fatalf("%s: signed out: %s", path, r.Body)
			}
			if !refresh && len(r.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("%s: cookie re-sent before update_age passed: %q", path, r.Header.Values("Set-Cookie"))
			}
			if refresh && hostileCheckCookie(t, r, hostileCookie, hostileWeek, false) != signed {
				t.Errorf("%s: refresh did not re-send the same token's cookie", path)
			}
			at, err := time.Parse(time.RFC3339, hostileStr(r.JSON(), append([]string{"session"}, expiry...)...))
			if err != nil {
				t.Fatalf("expiry in %s: %v", r.Body, err)
			}
			if want := e.srv.Clock.Now().Add(ttl); refresh && at.Sub(want).Abs() > 10*time.Second {
				t.Errorf("%s: expiry %v, want now+7d = %v", path, at, want)
			}
			return at
		}
		created := get(23*time.Hour, "/api/auth/get-session", false, "expiresAt")
		if moved := get(2*time.Hour, "/api/auth/session", true, "expires_at"); !moved.After(created) {
			t.Errorf("expiry did not move: %v", moved)
		}
		get(23*time.Hour, "/api/auth/get-session", false, "expiresAt")
		get(2*time.Hour, "/api/auth/get-session", true, "expiresAt")

		e.srv.Clock.Advance(ttl + time.Minute)
		if got := c.who(nil); got != "" {
			t.Errorf("session unused for 7 days still authenticates as %q", got)
		}
		if e.count(t, hostileTokenRows, u.token) != 0 {
			t.Error("expired session row remains")
		}
	})
}

func TestHostileAuthSecureCookies(t *testing.T) {
	const public = "https://todo.example.com"
	hostileRun(t, func(c *config.Config) { c.Server.PublicURL = public }, func(t *testing.T, e *hostileEnv) {
		hostileCookieFlow(t, e, public, true)
	})
}

// hostileCookieFlow signs up and in on every route and checks the session
// cookie: name, attributes, Better Auth's signed value; only that name
// authenticates; sign-out needs the right Origin, expires all three cookies,
// ends the session and is idempotent. Cookies go by hand, as Go's jar never
// sends Secure ones over http.
func hostileCookieFlow(t *testing.T, e *hostileEnv, origin string, secure bool) {
	name, wrong := hostileCookie, hostileSecureCookie
	if secure {
		name, wrong = wrong, name
	}
	var email string
	for _, path := range []string{"/api/auth/signup", "/api/auth/sign-up/email", "/api/auth/login", "/api/auth/sign-in/email"} {
		c, userName := e.client(t), ""
		c.Origin = origin
		if strings.Contains(path, "up") {
			userName, email = "Attr", e.email()
		}
		r := c.do("POST", path, hostileCreds(userName, email, e.forbid(hostilePW)), nil)
		if r.Status >= 300 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
		v, tok := hostileCheckCookie(t, r, name, hostileWeek, secure), hostileStr(r.JSON(), "token")
		if hostileSetCookie(r, wrong) != nil || v != hostileSign(servertest.Secret, tok) {
			t.Errorf("%s: cookie %q is not Better Auth's signed form of %q, or %s was set", path, v, tok, wrong)
		}
		hdr := hostileCookieHdr(name, v)
		if e.who(t, hdr) != hostileStr(r.JSON(), "user", "id") || e.who(t, hostileCookieHdr(wrong, v)) != "" {
			t.Errorf("%s: only the %s cookie may authenticate", path, name)
		}
		out := map[bool]string{true: "/api/auth/sign-out", false: "/api/auth/logout"}[hostileIsBA(path)]
		hostileWant(t, c.do("POST", out, nil, map[string]string{"Cookie": hdr["Cookie"], "Origin": hostileEvil}), out, 403)
		r = c.do("POST", out, nil, hdr)
		hostileWant(t, r, out, 200)
		hostileExpired(t, r, secure)
		if e.who(t, hdr) != "" || e.count(t, hostileTokenRows, tok) != 0 {
			t.Errorf("%s: the session survived", out)
		}
		hostileWant(t, e.client(t).do("POST", out, nil, nil), out, 200) // idempotent
	}
}

func TestHostileAuthSignupDisabled(t *testing.T) {
	hostileRun(t, func(c *config.Config) { c.Auth.SignupEnabled = false }, func(t *testing.T, e *hostileEnv) {
		pw := e.forbid(hostilePW)
		if _, err := e.srv.Auth.CreateUser(context.Background(), "Admin", "Admin.Hostile@Example.com", pw); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/api/auth/signup", "/api/auth/sign-up/email"} {
			r := e.client(t).do("POST", path, hostileCreds("New", e.email(), pw), nil)
			hostileWant(t, r, path, 403)
			if hostileSetCookie(r, hostileCookie) != nil {
				t.Errorf("%s: refused sign-up set a cookie", path)
			}
		}
		if n := e.count(t, hostileUsers); n != 1 {
			t.Errorf("%d users, want only the administrator's", n)
		}
		for _, path := range []string{"/api/auth/login", "/api/auth/sign-in/email"} {
			c := e.client(t)
			hostileWant(t, c.do("POST", path, hostileCreds("", "admin.hostile@EXAMPLE.com", pw), nil), path, 200)
			if c.who(nil) == "" {
				t.Errorf("%s: an administrator-made account cannot sign in", path)
			}
		}
	})
}
