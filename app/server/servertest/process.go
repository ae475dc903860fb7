package servertest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests that need `todo serve` as a process of its own (to kill it, or to
// run it beside another server) share one build of the binary per test run.

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

// buildLimit bounds the one `go build` of a test run.
const buildLimit = 5 * time.Minute

// TodoBinary builds the todo binary once per test process and returns its
// path. Call RemoveTodoBinary from TestMain when the run ends.
func TodoBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "todo-test-bin-")
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

// RemoveTodoBinary deletes the binary TodoBinary built, if any.
func RemoveTodoBinary() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}

// CleanEnv is the test's environment without anything that would configure
// todo (or a Better Auth server) behind the test's back; extra lists more
// prefixes to drop.
func CleanEnv(extra ...string) []string {
	drop := append([]string{"TODO_", "BETTER_AUTH_", "AUTH_SECRET", "DATABASE_URL", "SECRET_KEY",
		"ACCESS_TOKEN_EXPIRE_MINUTES", "DEBUG="}, extra...)
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

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// logTail is how much of a subprocess's output a LogBuffer keeps.
const logTail = 64 << 10

// LogBuffer collects the last 64 KiB of a subprocess's output, for failure
// messages.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() > 2*logTail {
		keep := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-logTail:]...)
		b.buf.Reset()
		b.buf.Write(keep)
	}
	return len(p), nil
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
