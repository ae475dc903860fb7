package realtime_test

import (
	"encoding/binary"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/app/server/servertest"
)

// clientFrame builds one WebSocket frame as a client sends it (masked).
func clientFrame(fin bool, opcode byte, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	mask := []byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, mask...)
	for i, c := range payload {
		out = append(out, c^mask[i%4])
	}
	return out
}

// FuzzWebSocketClientFrames writes arbitrary bytes, as raw frames, on an
// upgraded /api/ws connection of a real server (the protocol has no client
// messages: the server reads and drops them, up to 4 KiB each). Whatever
// arrives, the server must drop the connection or keep ignoring it, forget
// it once the client hangs up, and go on serving: a fresh client still gets
// its hello, and the goroutine count comes back down.
func FuzzWebSocketClientFrames(f *testing.F) {
	for _, seed := range [][]byte{
		clientFrame(true, websocket.TextMessage, []byte(`{"type":"hello"}`)),
		clientFrame(true, websocket.BinaryMessage, []byte{0, 1, 2, 0xff}),
		clientFrame(true, websocket.PingMessage, []byte("ping")),
		clientFrame(true, websocket.PongMessage, nil),
		clientFrame(true, websocket.CloseMessage, []byte{0x03, 0xe8, 'b', 'y', 'e'}),
		clientFrame(true, websocket.CloseMessage, []byte{0x00}),
		append(clientFrame(false, websocket.TextMessage, []byte("frag")), clientFrame(true, 0, []byte("ment"))...),
		clientFrame(false, websocket.PingMessage, nil),                           // fragmented control frame
		clientFrame(true, websocket.TextMessage, []byte("\xff\xfe")),             // invalid UTF-8 text
		clientFrame(true, websocket.TextMessage, make([]byte, 4097)),             // over the read limit
		clientFrame(true, 0x3, nil),                                              // reserved opcode
		{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'},                                    // unmasked
		{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, // 2^63-byte length
		{0xf1, 0x80, 0, 0, 0, 0},                                                 // RSV bits set
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		{},
	} {
		f.Add(seed)
	}

	inst := servertest.StartInstance(f, servertest.NewDatabaseURL(f, database.SQLite), servertest.InstanceOptions{})
	token := inst.Client(f).SignUp("Fuzz", "fuzz@example.com", "correct horse battery").JSON()["token"].(string)
	wsURL := "ws" + strings.TrimPrefix(inst.URL, "http") + "/api/ws"
	header := http.Header{"Authorization": {"Bearer " + token}}
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}

	// hello opens a socket, checks the server greets it, and closes it.
	hello := func(t testing.TB) {
		t.Helper()
		conn, _, err := dialer.Dial(wsURL, header)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m realtime.Message
		if err := conn.ReadJSON(&m); err != nil || m.Type != realtime.TypeHello {
			t.Fatalf("no hello from the server: %+v %v", m, err)
		}
	}
	// settle waits until the server has let go of every socket and the
	// goroutines are back near where they started.
	settle := func(t testing.TB, base int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for inst.Hub.Stats().Connections > 0 || runtime.NumGoroutine() > base+goroutineSlack {
			if time.Now().After(deadline) {
				t.Fatalf("after 10s: %d sockets still registered, %d goroutines (started with %d)",
					inst.Hub.Stats().Connections, runtime.NumGoroutine(), base)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	hello(f)
	base := runtime.NumGoroutine()

	f.Fuzz(func(t *testing.T, frames []byte) {
		conn, _, err := dialer.Dial(wsURL, header)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		raw := conn.UnderlyingConn()
		_ = raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		// The server may hang up half-way through, which is its right.
		_, _ = raw.Write(frames)
		_ = conn.Close()

		settle(t, base)
		hello(t)
	})
}

// goroutineSlack allows for goroutines that come and go with any
// connection (the HTTP server's idle workers, timers).
const goroutineSlack = 20
