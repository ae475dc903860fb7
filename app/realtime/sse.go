package realtime

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
)

// ServeSSE answers the request with a Server-Sent Events stream for sub:
// the same messages as the WebSocket, one "data:" line each, and a ": ping"
// comment line every Heartbeat. The stream ends when the client goes away,
// when its queue overflows, when the session ends, or when the hub shuts
// down.
//
// The connection is hijacked from the HTTP server so that its write timeout
// does not cut the stream: the response head (with whatever headers the
// middleware set) is written here, followed by a chunked body.
func (h *Hub) ServeSSE(c *fiber.Ctx, sub Subscriber) error {
	if h.Closing() {
		return fiber.NewError(fiber.StatusServiceUnavailable, "The server is shutting down.")
	}
	c.Status(fiber.StatusOK)
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	if c.Method() == fiber.MethodHead {
		return nil
	}
	fctx := c.Context()
	fctx.Response.Header.SetContentLength(-1) // Transfer-Encoding: chunked
	fctx.Response.Header.SetConnectionClose()
	fctx.HijackSetNoResponse(true)
	fctx.Hijack(func(conn net.Conn) {
		// The connection is this function's to close: the server may keep
		// hijacked connections open (KeepHijackedConns).
		defer closeConn(conn)
		// fctx stays valid until this function returns.
		head := fctx.Response.Header.Header()
		h.serveSSE(conn, head, sub)
	})
	return nil
}

func (h *Hub) serveSSE(conn net.Conn, head []byte, sub Subscriber) {
	w := &sseWriter{conn: conn, bw: bufio.NewWriterSize(conn, 4096), timeout: h.opts.WriteTimeout}
	if err := w.head(head); err != nil {
		return
	}
	c, err := h.register(sub, func() { closeConn(conn) })
	if err != nil {
		_ = w.end()
		return
	}
	defer h.unregister(c)

	// The client sends nothing after its request; a read returning means it
	// closed the connection (or TCP keep-alive found it dead).
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_, _ = io.Copy(io.Discard, conn)
	}()
	defer func() {
		closeConn(conn)
		<-readDone
	}()

	ping := time.NewTicker(h.opts.Heartbeat)
	defer ping.Stop()
	var buf []byte
	for {
		select {
		case <-c.done:
			_ = w.end()
			return
		default:
		}
		select {
		case <-c.done:
			continue
		case <-readDone:
			return
		case m := <-c.queue:
			buf = append(buf[:0], "data: "...)
			buf = c.frame(buf, m)
			buf = append(buf, "\n\n"...)
			if w.chunk(buf) != nil {
				return
			}
		case <-ping.C:
			if w.chunk([]byte(": ping\n\n")) != nil {
				return
			}
		}
	}
}

// sseWriter writes an HTTP/1.1 chunked body, each write bounded by timeout.
type sseWriter struct {
	conn    net.Conn
	bw      *bufio.Writer
	timeout time.Duration
}

func (w *sseWriter) head(head []byte) error {
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	if _, err := w.bw.Write(head); err != nil {
		return err
	}
	return w.bw.Flush()
}

func (w *sseWriter) chunk(p []byte) error {
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	var size [16]byte
	w.bw.Write(strconv.AppendInt(size[:0], int64(len(p)), 16))
	w.bw.WriteString("\r\n")
	w.bw.Write(p)
	w.bw.WriteString("\r\n")
	return w.bw.Flush()
}

// end finishes the body: the client sees the stream end cleanly.
func (w *sseWriter) end() error {
	_ = w.conn.SetWriteDeadline(time.Now().Add(closeGrace))
	w.bw.WriteString("0\r\n\r\n")
	return w.bw.Flush()
}
