// Package servertest runs the whole HTTP application against a fresh,
// migrated database so tests can exercise it as a client would.
package servertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/models"
)

// Secret signs the test servers' cookies.
const Secret = "servertest-secret-0123456789-abcdefghijklmnop"

// Server is a running application.
type Server struct {
	URL    string
	Config *config.Config
	DB     *database.DB
	Store  *models.Store
	Auth   *auth.Service
	Clock  *Clock
}

// Clock is a settable clock for the auth service; zero offset is real time.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the real time moved by the offset.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Config returns the built-in defaults tuned for tests: a fixed secret, a
// cheap bcrypt cost, no rate limits, quiet logs.
func Config(t testing.TB, dbURL string) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.Options{SearchPaths: []string{}, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database.URL = dbURL
	cfg.Auth.Secret = Secret
	cfg.Auth.BcryptCost = 4
	cfg.RateLimit.Enabled = false
	return cfg
}

// Start runs the application on a new database of the engine; mutate, when
// set, adjusts the configuration first.
func Start(t testing.TB, d database.Dialect, mutate func(*config.Config)) *Server {
	t.Helper()
	return StartInstance(t, dbtest.NewURL(t, d), InstanceOptions{Mutate: mutate}).Server
}

// Client is a browser-like client: it keeps cookies and sends the server's
// own Origin on every request unless told otherwise.
type Client struct {
	t      testing.TB
	srv    *Server
	http   *http.Client
	Origin string
	Bearer string
}

// Client returns a new client with an empty cookie jar.
func (s *Server) Client(t testing.TB) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, srv: s, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, Origin: s.URL}
}

// Response is what came back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map (nil when it is not an object).
func (r *Response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Request sends method path with body: nil, a string or []byte sent as is
// (Content-Type application/json unless headers say otherwise), or any other
// value encoded as JSON. headers are added last and may override defaults;
// an empty value deletes the header.
func (c *Client) Request(method, path string, body any, headers map[string]string) *Response {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Origin != "" {
		req.Header.Set("Origin", c.Origin)
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// SignUp creates an account through the API and keeps its session cookie.
func (c *Client) SignUp(name, email, password string) *Response {
	c.t.Helper()
	r := c.Request("POST", "/api/auth/signup", map[string]string{"name": name, "email": email, "password": password}, nil)
	if r.Status != http.StatusCreated {
		c.t.Fatalf("sign up %s: %d %s", email, r.Status, r.Body)
	}
	return r
}

// Cookie returns the value of the named cookie the client holds, or "".
func (c *Client) Cookie(name string) string {
	req, _ := http.NewRequest("GET", c.srv.URL, nil)
	for _, ck := range c.http.Jar.Cookies(req.URL) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// SetCookie puts a cookie in the client's jar, as a browser holding it would.
func (c *Client) SetCookie(name, value string) {
	req, _ := http.NewRequest("GET", c.srv.URL, nil)
	c.http.Jar.SetCookies(req.URL, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}
