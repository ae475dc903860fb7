package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	buildLimit = 5 * time.Minute
	// startLimit bounds how long a restarted server may take to answer
	// /health 200 (it opens the database and recovers it first).
	startLimit = 60 * time.Second
	secret     = "crash-test-secret-6b1f0c9e4a7d2853f0e1c4b9"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// todoBinary builds the todo binary once per test run: the server under test
// must be a process of its own so that SIGKILL takes it down mid-write.
func todoBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "todo-crashtest-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "todo")
		ctx, cancel := context.WithTimeout(context.Background(), buildLimit)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", binPath, "github.com/todo-app/todo").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// baseEnv is the test's environment without anything that would configure
// todo behind the test's back.
func baseEnv() []string {
	drop := []string{"TODO_", "BETTER_AUTH_", "AUTH_SECRET", "DATABASE_URL", "SECRET_KEY", "ACCESS_TOKEN_EXPIRE_MINUTES", "DEBUG="}
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range drop {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// logBuffer collects a subprocess's output for failure messages, keeping
// only the last limit bytes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const logLimit = 64 << 10

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() > 2*logLimit {
		keep := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-logLimit:]...)
		b.buf.Reset()
		b.buf.Write(keep)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server runs `todo serve` as a subprocess on one database, restarting it
// on a fresh port each time.
type server struct {
	t     *testing.T
	bin   string
	dbURL string
	dir   string
	log   *logBuffer

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	base   string
	starts int
}

func newServer(t *testing.T, dbURL string) *server {
	t.Helper()
	s := &server{t: t, bin: todoBinary(t), dbURL: dbURL, dir: t.TempDir(), log: &logBuffer{}}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("todo serve output (last %d KiB):\n%s", logLimit>>10, s.log.String())
		}
	})
	return s
}

// start runs the server and waits until /health answers 200.
func (s *server) start() {
	s.t.Helper()
	port := freePort(s.t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.base = "http://" + addr
	cmd := exec.Command(s.bin, "serve")
	cmd.Dir = s.dir // no config.yaml here
	cmd.Env = append(baseEnv(),
		"TODO_DATABASE_URL="+s.dbURL,
		"BETTER_AUTH_SECRET="+secret,
		"TODO_SERVER_ADDR="+addr,
		"TODO_RATELIMIT_ENABLED=false",
		"TODO_AUTH_BCRYPT_COST=4",
		"TODO_LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	s.starts++
	fmt.Fprintf(s.log, "--- start %d on %s\n", s.starts, addr)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start todo serve: %v", err)
	}
	s.cmd, s.exited, s.err = cmd, make(chan struct{}), nil
	exited := s.exited
	go func() {
		s.err = cmd.Wait()
		close(exited)
	}()

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startLimit)
	for {
		select {
		case <-exited:
			s.t.Fatalf("todo serve exited during start %d: %v", s.starts, s.err)
		default:
		}
		resp, err := client.Get(s.base + "/health")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("todo serve did not answer /health 200 within %s of start %d (last error %v)", startLimit, s.starts, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// alive reports whether the server process is still running.
func (s *server) alive() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// kill ends the server with SIGKILL, as a crash or the OOM killer would: no
// shutdown code runs, nothing is flushed or closed. It waits for the process
// to be gone.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Kill() // SIGKILL on Unix
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			s.t.Errorf("todo serve did not exit within 30s of SIGKILL")
		}
	}
	fmt.Fprintf(s.log, "--- killed (%v)\n", s.err)
	s.cmd = nil
}
