package realtime

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

const (
	// maxClientMessage bounds what a client may send; the protocol has no
	// client messages, so anything is read and ignored.
	maxClientMessage = 4096
	// closeGrace is how long a closing connection waits for the peer's
	// close frame before dropping the TCP connection.
	closeGrace = time.Second
	// wsReadBufferSize is each connection's read buffer: a client only sends
	// pongs, closes and messages that are dropped, so it can be small (the
	// library needs room for a control frame, 125 bytes).
	wsReadBufferSize = 256
	// wsWriteBufferSize is the buffer a message is framed in, borrowed from
	// wsWriteBuffers for the write only: an idle connection holds none.
	wsWriteBufferSize = 4096
	// maxPooledFrame bounds the message buffers kept for reuse.
	maxPooledFrame = 64 << 10
)

// ErrBadHandshake is returned by UpgradeWebSocket for a request that is not
// a WebSocket (version 13) handshake; nothing has been written.
var ErrBadHandshake = errors.New("realtime: not a WebSocket handshake")

var (
	// wsWriteBuffers lends write buffers to connections while they write.
	wsWriteBuffers sync.Pool
	// frameBuffers holds the buffers messages are encoded in.
	frameBuffers = sync.Pool{New: func() any { return new([]byte) }}
)

// UpgradeWebSocket answers a WebSocket handshake on /api/ws and serves the
// connection for sub (see wsConn): it sends the hello and every event of the
// user, pings every Heartbeat, and closes the connection when the peer stops
// answering, when its queue overflows, when the session ends, or when the
// hub shuts down. The caller has checked the Origin and the session. It
// returns ErrBadHandshake, having written nothing, for a request that is not
// a version 13 handshake, and ErrClosed once the hub shuts down.
//
// The connection is hijacked from fasthttp, and the handshake is answered on
// it with the headers the middleware set. When the server keeps hijacked
// connections open after their handler (fasthttp.Server.KeepHijackedConns,
// which server.New sets), the handler returns at once and hands back the
// request context and the 16 KiB read buffer fasthttp would otherwise keep
// for the life of the socket; without it the socket is served on the
// handler's goroutine.
func (h *Hub) UpgradeWebSocket(c *fiber.Ctx, sub Subscriber) error {
	if h.Closing() {
		return ErrClosed
	}
	fctx := c.Context()
	key := fctx.Request.Header.Peek("Sec-WebSocket-Key")
	if !fctx.IsGet() || !websocket.FastHTTPIsWebSocketUpgrade(fctx) ||
		!hasToken(fctx.Request.Header.Peek("Sec-WebSocket-Version"), "13") || !validKey(key) {
		return ErrBadHandshake
	}
	keep := c.App().Server().KeepHijackedConns
	// The status is for the access log: the response is written in
	// serveWebSocket, after the handlers have set every header.
	fctx.SetStatusCode(fasthttp.StatusSwitchingProtocols)
	fctx.HijackSetNoResponse(true)
	fctx.Hijack(func(hc net.Conn) {
		defer func() {
			if r := recover(); r != nil {
				h.opts.Logger.Error("realtime: panic in WebSocket handshake", "panic", fmt.Sprint(r))
				closeConn(hc)
			}
		}()
		h.serveWebSocket(fctx, hc, sub, keep)
	})
	return nil
}

// serveWebSocket completes the handshake on the hijacked connection hc and
// serves it, on a goroutine of its own when keep is set (fctx and hc's
// buffered reader are released when this returns, the connection is not).
func (h *Hub) serveWebSocket(fctx *fasthttp.RequestCtx, hc net.Conn, sub Subscriber, keep bool) {
	raw := hc
	if u, ok := hc.(interface{ UnsafeConn() net.Conn }); ok {
		raw = u.UnsafeConn()
	}
	// The connection is read directly from now on, so anything fasthttp has
	// buffered beyond the request would be lost: a client may not send
	// before the handshake is answered, and one that does is dropped, as the
	// library's own upgrader does.
	if sentEarly(hc, raw) {
		closeConn(raw)
		return
	}
	req := &http.Request{Method: http.MethodGet, Header: http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {string(fctx.Request.Header.Peek("Sec-WebSocket-Key"))},
	}}
	upgrader := websocket.Upgrader{
		HandshakeTimeout: h.opts.WriteTimeout,
		ReadBufferSize:   wsReadBufferSize,
		WriteBufferSize:  wsWriteBufferSize,
		WriteBufferPool:  &wsWriteBuffers,
		CheckOrigin:      func(*http.Request) bool { return true },
		Error:            func(http.ResponseWriter, *http.Request, int, error) {},
	}
	conn, err := upgrader.Upgrade(&hijacked{conn: raw}, req, responseHeader(&fctx.Response.Header))
	if err != nil {
		closeConn(raw)
		return
	}
	w := &wsConn{hub: h, conn: conn, raw: raw, readDone: make(chan struct{})}
	c := newClient(h, sub)
	c.abort = w.drop
	c.notify = w.kick
	w.c = c
	if err := h.add(c); err != nil {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(CloseGoingAway, "server shutting down"), time.Now().Add(closeGrace))
		closeConn(raw)
		return
	}
	w.mu.Lock()
	w.ping = time.AfterFunc(h.opts.Heartbeat, w.heartbeat)
	w.mu.Unlock()
	w.kick() // the hello
	if keep {
		go w.read()
	} else {
		w.read()
	}
}

// wsConn is one WebSocket connection. Its reader is its only long-lived
// goroutine: writes run on a goroutine started when there is something to
// write (a message, a ping, a close) that ends once there is nothing left,
// and the pings are due on a timer. So an idle connection holds one
// goroutine, a 256-byte read buffer and no write buffer.
type wsConn struct {
	hub      *Hub
	c        *client
	conn     *websocket.Conn
	raw      net.Conn
	readDone chan struct{}
	writers  sync.WaitGroup

	mu      sync.Mutex
	ping    *time.Timer
	writing bool // a writer goroutine runs (and stays marked once it ended the connection)
	pingDue bool
	dead    bool // the reader has finished: no writer starts any more
}

// kick makes sure a writer runs; called whenever there is something to write.
func (w *wsConn) kick() {
	w.mu.Lock()
	if !w.writing && !w.dead {
		w.writing = true
		w.writers.Add(1)
		go w.write()
	}
	w.mu.Unlock()
}

func (w *wsConn) heartbeat() {
	w.mu.Lock()
	w.pingDue = true
	if !w.dead {
		w.ping.Reset(w.hub.opts.Heartbeat)
	}
	w.mu.Unlock()
	w.kick()
}

// drop closes the TCP connection at once (the hub's abort).
func (w *wsConn) drop() { closeConn(w.raw) }

// read reads until the connection fails or ends, then waits for the writer
// and unregisters. Client frames are pongs (which, like anything else
// received, keep the connection alive), closes and messages, which are
// dropped.
func (w *wsConn) read() {
	defer w.finish()
	defer w.rescue("reader")
	alive := w.hub.opts.Heartbeat + w.hub.opts.PongTimeout
	conn := w.conn
	conn.SetReadLimit(maxClientMessage)
	_ = conn.SetReadDeadline(time.Now().Add(alive))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(alive))
	})
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(alive))
	}
}

func (w *wsConn) finish() {
	close(w.readDone)
	closeConn(w.raw)
	w.mu.Lock()
	w.dead = true
	w.ping.Stop()
	w.mu.Unlock()
	w.writers.Wait()
	w.hub.unregister(w.c)
}

// write sends what is due, in order, and returns when nothing is: it ends
// the connection after a write fails or once it has said goodbye.
func (w *wsConn) write() {
	defer w.writers.Done()
	defer w.rescue("writer")
	c := w.c
	for {
		select {
		case <-c.done:
			w.goodbye()
			return
		default:
		}
		select {
		case m := <-c.queue:
			if !w.send(m) {
				closeConn(w.raw)
				return
			}
			continue
		default:
		}
		w.mu.Lock()
		if w.pingDue {
			w.pingDue = false
			w.mu.Unlock()
			if err := w.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(w.hub.opts.WriteTimeout)); err != nil {
				closeConn(w.raw)
				return
			}
			continue
		}
		// Whatever is queued or closed after this check kicks a new writer.
		if len(c.queue) == 0 && !isDone(c.done) {
			w.writing = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
	}
}

// send writes one message, encoded in a pooled buffer.
func (w *wsConn) send(m *message) bool {
	bp := frameBuffers.Get().(*[]byte)
	b := w.c.frame((*bp)[:0], m)
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.hub.opts.WriteTimeout))
	err := w.conn.WriteMessage(websocket.TextMessage, b)
	if cap(b) <= maxPooledFrame {
		*bp = b[:0]
		frameBuffers.Put(bp)
	}
	return err == nil
}

// goodbye sends the close frame the hub asked for, waits briefly for the
// peer's, and drops the connection.
func (w *wsConn) goodbye() {
	code, reason := w.c.closeCode()
	err := w.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeGrace))
	if err == nil || errors.Is(err, websocket.ErrCloseSent) {
		t := time.NewTimer(closeGrace)
		select {
		case <-w.readDone:
		case <-t.C:
		}
		t.Stop()
	}
	closeConn(w.raw)
}

// rescue turns a panic into a dropped connection and a log line.
func (w *wsConn) rescue(who string) {
	if r := recover(); r != nil {
		w.hub.opts.Logger.Error("realtime: panic in WebSocket "+who, "panic", fmt.Sprint(r))
		closeConn(w.raw)
	}
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// sentEarly reports whether hc (which reads what fasthttp buffered, then
// raw) has bytes buffered: its read of raw fails at once on the deadline,
// leaving whatever the kernel holds unread.
func sentEarly(hc, raw net.Conn) bool {
	if hc == raw {
		return false
	}
	_ = raw.SetReadDeadline(time.Unix(1, 0))
	var b [1]byte
	n, _ := hc.Read(b[:])
	_ = raw.SetReadDeadline(time.Time{})
	return n > 0
}

// responseHeader is what the handlers set for the response, for the
// handshake answer (which sets the WebSocket headers itself).
func responseHeader(rh *fasthttp.ResponseHeader) http.Header {
	hdr := http.Header{"Date": {time.Now().UTC().Format(http.TimeFormat)}}
	rh.VisitAll(func(k, v []byte) {
		name := http.CanonicalHeaderKey(string(k))
		switch name {
		case "Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Date":
			return
		}
		if strings.HasPrefix(name, "Sec-Websocket-") {
			return
		}
		hdr[name] = append(hdr[name], string(v))
	})
	return hdr
}

// hijacked hands an already hijacked connection to the library's upgrader,
// which writes the handshake answer on it.
type hijacked struct {
	conn net.Conn
	hdr  http.Header
}

func (h *hijacked) Header() http.Header {
	if h.hdr == nil {
		h.hdr = http.Header{}
	}
	return h.hdr
}
func (h *hijacked) Write(p []byte) (int, error) { return len(p), nil }
func (h *hijacked) WriteHeader(int)             {}
func (h *hijacked) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	// Buffers of the minimum size: the upgrader only checks the reader is
	// empty and writes the answer through its own buffer.
	return h.conn, bufio.NewReadWriter(bufio.NewReaderSize(h.conn, 16), bufio.NewWriterSize(h.conn, 16)), nil
}

// hasToken reports whether the comma-separated header value has token.
func hasToken(v []byte, token string) bool {
	for s := range strings.SplitSeq(string(v), ",") {
		if strings.EqualFold(strings.TrimSpace(s), token) {
			return true
		}
	}
	return false
}

// validKey reports whether a Sec-WebSocket-Key is base64 of 16 bytes.
func validKey(key []byte) bool {
	var b [18]byte // base64.StdEncoding.DecodedLen(24)
	if len(key) != 24 {
		return false
	}
	n, err := base64.StdEncoding.Decode(b[:], key)
	return err == nil && n == 16
}

// closeConn closes a hijacked connection for real. fasthttp's hijacked
// connections ignore Close (the server closes them once the handler
// returns), which would leave a goroutine blocked reading or writing them.
func closeConn(conn net.Conn) {
	if u, ok := conn.(interface{ UnsafeConn() net.Conn }); ok {
		conn = u.UnsafeConn()
	}
	_ = conn.Close()
}
