package routes_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/server/servertest"
	"github.com/todo-app/todo/models"
)

// eachEngine runs fn against a fresh server on every database engine.
func eachEngine(t *testing.T, fn func(t *testing.T, srv *servertest.Server)) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, servertest.Start(t, d, nil))
		})
	}
}

func TestNativeAuthFlow(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		c := srv.Client(t)

		r := c.Request("POST", "/api/auth/signup", map[string]string{
			"name": "Ann Example", "email": "Ann@Example.COM", "password": "correct horse"}, nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("signup: %d %s", r.Status, r.Body)
		}
		body := r.JSON()
		user := body["user"].(map[string]any)
		wantKeys(t, user, "id", "name", "email", "email_verified", "image", "created_at", "updated_at")
		if user["email"] != "ann@example.com" || user["name"] != "Ann Example" || user["email_verified"] != false || user["image"] != nil {
			t.Errorf("user = %v", user)
		}
		if len(user["id"].(string)) != 32 {
			t.Errorf("user id %q is not 32 characters", user["id"])
		}
		token, _ := body["token"].(string)
		if len(token) != 32 {
			t.Fatalf("token %q is not 32 characters", token)
		}
		expires := body["session"].(map[string]any)["expires_at"].(string)
		if _, err := models.ParseTime(expires); err != nil || !strings.HasSuffix(expires, "Z") || len(expires) != len(models.TimeLayout) {
			t.Errorf("expires_at %q is not %s", expires, models.TimeLayout)
		}
		setCookie := r.Header.Get("Set-Cookie")
		for _, part := range []string{"better-auth.session_token=" + token + ".", "Max-Age=604800", "Path=/", "HttpOnly", "SameSite=Lax"} {
			if !strings.Contains(setCookie, part) {
				t.Errorf("Set-Cookie %q lacks %q", setCookie, part)
			}
		}

		// The cookie signs the user in.
		r = c.Request("GET", "/api/auth/session", nil, nil)
		s := r.JSON()
		if r.Status != 200 || s["user"].(map[string]any)["email"] != "ann@example.com" {
			t.Fatalf("session: %d %s", r.Status, r.Body)
		}
		wantKeys(t, s["session"].(map[string]any), "expires_at", "created_at")
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("session Cache-Control = %q", r.Header.Get("Cache-Control"))
		}

		// So does the raw token as a Bearer, from a client with no cookies.
		api := srv.Client(t)
		api.Origin, api.Bearer = "", token
		if r := api.Request("GET", "/api/auth/session", nil, nil); r.JSON()["user"] == nil {
			t.Fatalf("bearer session: %s", r.Body)
		}

		// Duplicate email in another case: 409.
		r = srv.Client(t).Request("POST", "/api/auth/signup", map[string]string{
			"name": "Other", "email": "ann@example.com", "password": "another password"}, nil)
		if r.Status != http.StatusConflict {
			t.Errorf("duplicate signup: %d %s", r.Status, r.Body)
		}

		// Login makes a second, separate session.
		other := srv.Client(t)
		r = other.Request("POST", "/api/auth/login", map[string]string{"email": "ANN@example.com", "password": "correct horse"}, nil)
		if r.Status != 200 || r.JSON()["token"] == token {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		second := r.JSON()["token"].(string)

		// Refresh rotates: the old token stops working at once.
		r = other.Request("POST", "/api/auth/refresh", nil, nil)
		if r.Status != 200 {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		rotated := r.JSON()["token"].(string)
		if rotated == second {
			t.Fatal("refresh kept the token")
		}
		old := srv.Client(t)
		old.Origin, old.Bearer = "", second
		if r := old.Request("GET", "/api/auth/session", nil, nil); r.JSON()["user"] != nil {
			t.Errorf("rotated-out token still works: %s", r.Body)
		}
		if r := other.Request("GET", "/api/auth/session", nil, nil); r.JSON()["user"] == nil {
			t.Errorf("new cookie after refresh does not work: %s", r.Body)
		}

		// Logout ends only its own session and is idempotent.
		for i := 0; i < 2; i++ {
			r = other.Request("POST", "/api/auth/logout", nil, nil)
			if r.Status != 200 || r.JSON()["message"] != "Logged out successfully" {
				t.Fatalf("logout %d: %d %s", i, r.Status, r.Body)
			}
		}
		if r := other.Request("GET", "/api/auth/session", nil, nil); r.JSON()["user"] != nil {
			t.Errorf("session survives logout: %s", r.Body)
		}
		if r := c.Request("GET", "/api/auth/session", nil, nil); r.JSON()["user"] == nil {
			t.Errorf("logout of one session ended another: %s", r.Body)
		}

		// Refresh without a session is 401.
		if r := srv.Client(t).Request("POST", "/api/auth/refresh", nil, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("anonymous refresh: %d %s", r.Status, r.Body)
		}

		// Wrong password: 401 with the generic message.
		r = srv.Client(t).Request("POST", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": "wrong password"}, nil)
		if r.Status != http.StatusUnauthorized || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("wrong password: %d %s", r.Status, r.Body)
		}
	})
}

func TestBetterAuthFlow(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		c := srv.Client(t)
		r := c.Request("POST", "/api/auth/sign-up/email", map[string]string{
			"name": "Bo", "email": "bo@example.com", "password": "password123"}, nil)
		if r.Status != 200 {
			t.Fatalf("sign-up: %d %s", r.Status, r.Body)
		}
		body := r.JSON()
		wantKeys(t, body, "token", "user")
		wantKeys(t, body["user"].(map[string]any), "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt")

		r = c.Request("GET", "/api/auth/get-session", nil, nil)
		s := r.JSON()
		if r.Status != 200 || s == nil {
			t.Fatalf("get-session: %d %s", r.Status, r.Body)
		}
		wantKeys(t, s["session"].(map[string]any), "id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent")
		if s["session"].(map[string]any)["token"] != body["token"] {
			t.Errorf("get-session token %v, want %v", s["session"].(map[string]any)["token"], body["token"])
		}

		cases := []struct {
			name   string
			body   map[string]string
			status int
			code   string
		}{
			{"duplicate", map[string]string{"name": "Bo", "email": "BO@example.com", "password": "password123"}, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"},
			{"short password", map[string]string{"name": "Bo", "email": "bo2@example.com", "password": "short"}, 400, "PASSWORD_TOO_SHORT"},
			{"long password", map[string]string{"name": "Bo", "email": "bo2@example.com", "password": strings.Repeat("p", 129)}, 400, "PASSWORD_TOO_LONG"},
			{"bad email", map[string]string{"name": "Bo", "email": "not-an-email", "password": "password123"}, 400, "INVALID_EMAIL"},
			{"missing name", map[string]string{"email": "bo3@example.com", "password": "password123"}, 400, "VALIDATION_ERROR"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := srv.Client(t).Request("POST", "/api/auth/sign-up/email", tc.body, nil)
				if r.Status != tc.status || r.JSON()["code"] != tc.code || r.JSON()["message"] == "" {
					t.Errorf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
				}
			})
		}

		// Sign-in: wrong password and unknown email look the same.
		wrong := srv.Client(t).Request("POST", "/api/auth/sign-in/email", map[string]string{"email": "bo@example.com", "password": "nope-nope"}, nil)
		unknown := srv.Client(t).Request("POST", "/api/auth/sign-in/email", map[string]string{"email": "nobody@example.com", "password": "nope-nope"}, nil)
		if wrong.Status != 401 || string(wrong.Body) != string(unknown.Body) || unknown.Status != 401 {
			t.Errorf("wrong password %d %s vs unknown email %d %s", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
		}
		if wrong.JSON()["code"] != "INVALID_EMAIL_OR_PASSWORD" {
			t.Errorf("code = %v", wrong.JSON()["code"])
		}

		d := srv.Client(t)
		r = d.Request("POST", "/api/auth/sign-in/email", map[string]any{"email": "bo@example.com", "password": "password123", "callbackURL": "/tasks"}, nil)
		if r.Status != 200 || r.JSON()["redirect"] != true || r.JSON()["url"] != "/tasks" {
			t.Fatalf("sign-in with callback: %d %s", r.Status, r.Body)
		}
		r = d.Request("POST", "/api/auth/sign-in/email", map[string]any{"email": "bo@example.com", "password": "password123", "callbackURL": "https://evil.example/x"}, nil)
		if r.JSON()["redirect"] != false {
			t.Errorf("sign-in redirected to an untrusted origin: %s", r.Body)
		}

		// Form bodies are accepted, as by Better Auth.
		r = srv.Client(t).Request("POST", "/api/auth/sign-in/email", "email=bo%40example.com&password=password123",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.Status != 200 {
			t.Errorf("form sign-in: %d %s", r.Status, r.Body)
		}

		// rememberMe false: a browser-session cookie and a dont_remember cookie.
		r = srv.Client(t).Request("POST", "/api/auth/sign-in/email", map[string]any{"email": "bo@example.com", "password": "password123", "rememberMe": false}, nil)
		cookies := strings.Join(r.Header.Values("Set-Cookie"), "\n")
		if !strings.Contains(cookies, "better-auth.dont_remember=") || strings.Contains(strings.Split(cookies, "\n")[0], "Max-Age") {
			t.Errorf("rememberMe=false cookies:\n%s", cookies)
		}

		r = c.Request("POST", "/api/auth/sign-out", nil, nil)
		if r.Status != 200 || r.JSON()["success"] != true {
			t.Fatalf("sign-out: %d %s", r.Status, r.Body)
		}
		expired := 0
		for _, v := range r.Header.Values("Set-Cookie") {
			if strings.Contains(v, "Max-Age=0") {
				expired++
			}
		}
		if expired != 3 {
			t.Errorf("sign-out expired %d cookies, want 3: %v", expired, r.Header.Values("Set-Cookie"))
		}
		if r := c.Request("GET", "/api/auth/get-session", nil, nil); string(r.Body) != "null" {
			t.Errorf("get-session after sign-out: %s", r.Body)
		}
	})
}

func TestSignupDisabled(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, database.SQLite, func(cfg *config.Config) { cfg.Auth.SignupEnabled = false })
	for _, path := range []string{"/api/auth/signup", "/api/auth/sign-up/email"} {
		r := srv.Client(t).Request("POST", path, map[string]string{"name": "A", "email": "a@example.com", "password": "password123"}, nil)
		if r.Status != http.StatusForbidden {
			t.Errorf("%s: %d %s", path, r.Status, r.Body)
		}
	}
}

func wantKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	if len(m) != len(keys) {
		t.Errorf("object has %d keys, want %d (%v): %v", len(m), len(keys), keys, m)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("object lacks %q: %v", k, m)
		}
	}
}
