package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// target is the server under test and the HTTP client that drives it.
type target struct {
	base     string // scheme://host[:port][/prefix], no trailing slash
	origin   string // scheme://host[:port]
	wsBase   string // ws(s)://host[:port][/prefix]
	loopback bool
	hc       *fasthttp.Client
}

// newTarget checks the URL and makes a client able to hold maxConns
// connections to it at once.
func newTarget(raw string, maxConns int, timeout time.Duration) (*target, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--url %q: want http://host:port or https://host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--url %q: give the server's base URL, without query or fragment", raw)
	}
	path := strings.TrimRight(u.Path, "/")
	origin := u.Scheme + "://" + u.Host
	ws := "ws"
	if u.Scheme == "https" {
		ws = "wss"
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	hc := &fasthttp.Client{
		Name:                   "todo-bench",
		MaxConnsPerHost:        maxConns,
		MaxIdleConnDuration:    time.Minute,
		MaxConnWaitTimeout:     timeout,
		ReadTimeout:            timeout,
		WriteTimeout:           timeout,
		ReadBufferSize:         16 << 10,
		MaxResponseBodySize:    16 << 20,
		DisablePathNormalizing: true,
		TLSConfig:              &tls.Config{MinVersion: tls.VersionTLS12},
		Dial:                   (&fasthttp.TCPDialer{Concurrency: 0, DNSCacheDuration: time.Minute}).Dial,
	}
	return &target{
		base:     origin + path,
		origin:   origin,
		wsBase:   ws + "://" + u.Host + path,
		loopback: isLoopback(u.Hostname()),
		hc:       hc,
	}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// call sends one request. auth is the whole Authorization value (may be
// empty); body, when not nil, is sent as JSON.
func (t *target) call(req *fasthttp.Request, resp *fasthttp.Response, method, path string, auth, body []byte) error {
	req.Reset()
	resp.Reset()
	req.Header.SetMethod(method)
	req.SetRequestURI(t.base + path)
	if len(auth) > 0 {
		req.Header.SetBytesV(fasthttp.HeaderAuthorization, auth)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	return t.hc.Do(req, resp)
}

// transportKind names a failure that got no HTTP response, briefly enough
// to count failures by it.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no free connection"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, fasthttp.ErrConnectionClosed):
		return "connection closed"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// user is one signed-up account of the run.
type user struct {
	email string
	auth  []byte  // "Bearer <token>"
	login []byte  // the sign-in body: email and password
	ids   []int64 // seeded tasks, read-only once seeding is over
}

// ErrRateLimited stops a run whose set-up met a 429.
var ErrRateLimited = errors.New("the server answered 429 Too Many Requests while setting up: " +
	"run it with rate limiting off (ratelimit.enabled: false, or TODO_RATELIMIT_ENABLED=false) " +
	"or with limits far above the load (ratelimit.per_minute, ratelimit.auth_per_minute)")

// runID tells one run's accounts and tasks from another's.
func runID() string {
	return randomString(8, "abcdefghijklmnopqrstuvwxyz0123456789")
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// setupError describes an unexpected answer while setting up.
func setupError(what string, resp *fasthttp.Response) error {
	if resp.StatusCode() == fasthttp.StatusTooManyRequests {
		return ErrRateLimited
	}
	body := bytes.TrimSpace(resp.Body())
	if len(body) > 300 {
		body = body[:300]
	}
	return fmt.Errorf("%s: the server answered %d: %s", what, resp.StatusCode(), body)
}

// signUp creates n accounts through the API, workers at a time.
func signUp(ctx context.Context, t *target, n, workers int, prog *Progress) ([]*user, error) {
	id := runID()
	password := randomString(24, "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
	users := make([]*user, n)
	var done atomic.Int64
	err := parallel(ctx, n, workers, func(i int) error {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		email := fmt.Sprintf("bench-%s-%d@bench.invalid", id, i+1)
		body, _ := json.Marshal(map[string]string{"name": fmt.Sprintf("Bench User %d", i+1), "email": email, "password": password})
		if err := t.call(req, resp, "POST", "/api/auth/signup", nil, body); err != nil {
			return fmt.Errorf("sign up %s: %w", email, err)
		}
		switch resp.StatusCode() {
		case fasthttp.StatusCreated:
		case fasthttp.StatusForbidden:
			return fmt.Errorf("sign up: the server refused (403); open sign-up must be on (auth.signup_enabled: true) for todo bench")
		default:
			return setupError("sign up "+email, resp)
		}
		var out struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(resp.Body(), &out); err != nil || out.Token == "" {
			return fmt.Errorf("sign up %s: no token in the answer", email)
		}
		login, _ := json.Marshal(map[string]string{"email": email, "password": password})
		users[i] = &user{email: email, auth: []byte("Bearer " + out.Token), login: login}
		prog.Update(fmt.Sprintf("signing up users %d/%d", done.Add(1), n))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return users, nil
}

// seedTitles and friends give the seeded tasks a spread of priorities,
// categories, due dates and states, so that filters and stats have work.
var seedCategories = []string{"work", "home", "errands", "health", "reading"}

func seedBody(buf []byte, n int, now time.Time) []byte {
	buf = append(buf[:0], `{"title":"bench task `...)
	buf = strconv.AppendInt(buf, int64(n), 10)
	buf = append(buf, `","priority":`...)
	buf = strconv.AppendInt(buf, int64(1+n%3), 10)
	if n%4 != 0 {
		buf = append(buf, `,"category":"`...)
		buf = append(buf, seedCategories[n%len(seedCategories)]...)
		buf = append(buf, '"')
	}
	if n%3 == 0 {
		buf = append(buf, `,"description":"Seeded by todo bench. Some words to search in: milk, report, call."`...)
	}
	if n%5 < 2 {
		// From two weeks ago to two weeks ahead: some overdue, some soon.
		due := now.AddDate(0, 0, n%29-14)
		buf = append(buf, `,"due_date":"`...)
		buf = due.AppendFormat(buf, "2006-01-02")
		buf = append(buf, '"')
	}
	if n%10 < 3 {
		buf = append(buf, `,"status":true`...)
	}
	return append(buf, '}')
}

// seed creates perUser tasks for every user, workers requests at a time,
// and keeps their ids.
func seed(ctx context.Context, t *target, users []*user, perUser, workers int, prog *Progress) error {
	if perUser <= 0 {
		return nil
	}
	total := len(users) * perUser
	for _, u := range users {
		u.ids = make([]int64, perUser)
	}
	now := time.Now().UTC()
	var done atomic.Int64
	bufs := sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}
	return parallel(ctx, total, workers, func(i int) error {
		u := users[i%len(users)]
		n := i / len(users)
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		bp := bufs.Get().(*[]byte)
		*bp = seedBody(*bp, n+1, now)
		err := t.call(req, resp, "POST", "/api/tasks", u.auth, *bp)
		bufs.Put(bp)
		if err != nil {
			return fmt.Errorf("seeding tasks: %w", err)
		}
		if resp.StatusCode() != fasthttp.StatusCreated {
			return setupError("seeding tasks", resp)
		}
		id, ok := taskID(resp.Body())
		if !ok {
			return fmt.Errorf("seeding tasks: no task id in the answer")
		}
		u.ids[n] = id
		if d := done.Add(1); d%100 == 0 || int(d) == total {
			prog.Update(fmt.Sprintf("seeding tasks %d/%d", d, total))
		}
		return nil
	})
}

// taskID finds the "id" of a task in its JSON without decoding the rest.
// "user_id" cannot match: its key is not preceded by a quote right before
// "id", and quotes inside strings are escaped.
func taskID(body []byte) (int64, bool) {
	i := bytes.Index(body, []byte(`"id":`))
	if i < 0 {
		return 0, false
	}
	rest := body[i+5:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	id, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return id, err == nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first
// error, after which no further item starts.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	if workers < 1 {
		workers = 1
	}
	if workers > n {
		workers = n
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
