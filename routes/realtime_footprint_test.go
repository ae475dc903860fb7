package routes_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/app/server/servertest"
)

// An idle WebSocket costs the server one goroutine (its reader) and a few
// KiB of heap: fasthttp's read buffer and request context go back to their
// pools once the handshake is answered, and no write buffer is held between
// messages (docs/realtime.md, "Memory"). With the buffers held for the life
// of the socket, as before, it was two goroutines and about 34 KiB of heap.
//
// The test counts this process's goroutines and heap, the server's plus its
// own clients' (which hold no goroutine and small buffers); it must not run
// beside parallel tests.
func TestRealtimeIdleSocketFootprint(t *testing.T) {
	const sockets = 200
	inst := servertest.StartInstance(t, servertest.NewDatabaseURL(t, database.SQLite), servertest.InstanceOptions{})
	u := rtSignUp(t, inst.Server, "idle@example.com")
	url := "ws" + strings.TrimPrefix(inst.URL, "http") + "/api/ws"
	dialer := websocket.Dialer{HandshakeTimeout: rtWait, ReadBufferSize: 256, WriteBufferSize: 256}
	open := func() *websocket.Conn {
		t.Helper()
		conn, _, err := dialer.Dial(url, u.bearer())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_ = conn.SetReadDeadline(time.Now().Add(rtWait))
		var m realtime.Message
		if err := conn.ReadJSON(&m); err != nil || m.Type != realtime.TypeHello {
			t.Fatalf("no hello: %+v %v", m, err)
		}
		return conn
	}
	open() // pools, encoders and the server's first-use allocations
	waitConnections(t, inst, u.ID, 1, rtWait)
	baseGoroutines := settledGoroutines(time.Second)
	baseHeap := heapInUse()

	for range sockets {
		open()
	}
	waitConnections(t, inst, u.ID, sockets+1, rtWait)
	perSocket := float64(settledGoroutines(time.Second)-baseGoroutines) / sockets
	heap := heapInUse()
	heapPerSocket := float64(heap-min(heap, baseHeap)) / sockets / 1024
	t.Logf("%d idle sockets: %.2f goroutines and %.1f KiB of heap each (server and client)", sockets, perSocket, heapPerSocket)
	if perSocket > 1.1 {
		t.Errorf("%.2f goroutines per idle socket, want 1", perSocket)
	}
	if heapPerSocket > 12 {
		t.Errorf("%.1f KiB of heap per idle socket, want under 12", heapPerSocket)
	}
}

// settledGoroutines waits up to within for the goroutine count to stop
// falling (writers and timers of the handshakes ending) and returns it.
func settledGoroutines(within time.Duration) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}
