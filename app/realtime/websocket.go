package realtime

import (
	"errors"
	"net"
	"time"

	"github.com/fasthttp/websocket"
)

const (
	// maxClientMessage bounds what a client may send; the protocol has no
	// client messages, so anything is read and ignored.
	maxClientMessage = 4096
	// closeGrace is how long a closing connection waits for the peer's
	// close frame before dropping the TCP connection.
	closeGrace = time.Second
)

// ServeWebSocket runs an upgraded connection for sub until it ends: it sends
// the hello and every event of the user, pings every Heartbeat, and closes
// the connection when the peer stops answering, when its queue overflows,
// when the session ends, or when the hub shuts down. It returns once the
// connection is no longer used, so the caller may release it.
func (h *Hub) ServeWebSocket(conn *websocket.Conn, sub Subscriber) {
	c, err := h.register(sub, func() { closeConn(conn.UnderlyingConn()) })
	if err != nil {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(CloseGoingAway, "server shutting down"), time.Now().Add(closeGrace))
		return
	}
	defer h.unregister(c)

	alive := h.opts.Heartbeat + h.opts.PongTimeout
	conn.SetReadLimit(maxClientMessage)
	_ = conn.SetReadDeadline(time.Now().Add(alive))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(alive))
	})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(alive))
		}
	}()
	// The reader must be finished before the connection is handed back.
	defer func() {
		closeConn(conn.UnderlyingConn())
		<-readDone
	}()

	ping := time.NewTicker(h.opts.Heartbeat)
	defer ping.Stop()
	var buf []byte
	for {
		select {
		case <-c.done:
			code, reason := c.closeCode()
			closeWebSocket(conn, code, reason, readDone)
			return
		default:
		}
		select {
		case <-c.done:
			continue
		case <-readDone:
			return
		case m := <-c.queue:
			buf = c.frame(buf[:0], m)
			_ = conn.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, buf); err != nil {
				return
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.opts.WriteTimeout)); err != nil {
				return
			}
		}
	}
}

// closeWebSocket sends a close frame and waits briefly for the peer's.
func closeWebSocket(conn *websocket.Conn, code int, reason string, readDone <-chan struct{}) {
	err := conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeGrace))
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		return
	}
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-readDone:
	case <-t.C:
	}
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
