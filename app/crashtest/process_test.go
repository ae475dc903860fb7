package crashtest

import (
	"fmt"
	"github.com/todo-app/todo/app/server/servertest"
	"io"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

const (
	// startLimit bounds how long a restarted server may take to answer
	// /health 200 (it opens the database and recovers it first).
	startLimit = 60 * time.Second
	secret     = "crash-test-secret-6b1f0c9e4a7d2853f0e1c4b9"
)

func TestMain(m *testing.M) {
	code := m.Run()
	servertest.RemoveTodoBinary()
	os.Exit(code)
}

// server runs `todo serve` as a subprocess on one database, restarting it
// on a fresh port each time.
type server struct {
	t     *testing.T
	bin   string
	dbURL string
	dir   string
	log   *servertest.LogBuffer

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	base   string
	starts int
}

func newServer(t *testing.T, dbURL string) *server {
	t.Helper()
	s := &server{t: t, bin: servertest.TodoBinary(t), dbURL: dbURL, dir: t.TempDir(), log: &servertest.LogBuffer{}}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("todo serve output (last %d KiB):\n%s", 64, s.log.String())
		}
	})
	return s
}

// start runs the server and waits until /health answers 200.
func (s *server) start() {
	s.t.Helper()
	port := servertest.FreePort(s.t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.base = "http://" + addr
	cmd := exec.Command(s.bin, "serve")
	cmd.Dir = s.dir // no config.yaml here
	cmd.Env = append(servertest.CleanEnv(),
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
