package realtime

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/todo-app/todo/models"
)

// message is an event ready to send: shared by every connection it goes
// to, each of which adds its own id when writing it.
type message struct {
	typ  []byte // the type as a JSON string
	data json.RawMessage
	at   []byte // the time as a JSON string
}

func newMessage(typ string, data json.RawMessage, at time.Time) *message {
	t, _ := json.Marshal(typ)
	return &message{
		typ:  t,
		data: data,
		at:   strconv.AppendQuote(nil, at.UTC().Format(models.TimeLayout)),
	}
}

// client is one connection's state in the hub. The transport owns the
// writing side; the hub only queues messages and asks it to close.
type client struct {
	hub    *Hub
	sub    Subscriber
	queue  chan *message
	done   chan struct{}
	once   sync.Once
	code   int
	reason string
	expiry *time.Timer
	// abort drops the connection at once (when shutdown runs out of time).
	abort func()
	// notify, if set, is called after a message is queued and after close:
	// for a transport that writes only when told (nil: it selects on queue
	// and done).
	notify func()
	// nextID is the id of the next message; used by the transport only.
	nextID int64
}

func newClient(h *Hub, sub Subscriber) *client {
	return &client{hub: h, sub: sub, queue: make(chan *message, h.opts.QueueSize), done: make(chan struct{})}
}

// enqueue queues m without blocking. A full queue closes the connection
// (1013) and reports false.
func (c *client) enqueue(m *message) bool {
	select {
	case <-c.done:
		return true
	default:
	}
	select {
	case c.queue <- m:
		if c.notify != nil {
			c.notify()
		}
		return true
	default:
		c.close(CloseTryAgainLater, "client too slow; reconnect")
		return false
	}
}

// close asks the transport to end the connection with code; the first
// request wins.
func (c *client) close(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.done)
		if c.notify != nil {
			c.notify()
		}
	})
}

// closeCode is the code the connection was asked to close with; only valid
// after done is closed.
func (c *client) closeCode() (int, string) { return c.code, c.reason }

// frame encodes m as this connection's next message.
func (c *client) frame(dst []byte, m *message) []byte {
	c.nextID++
	dst = append(dst, `{"type":`...)
	dst = append(dst, m.typ...)
	dst = append(dst, `,"data":`...)
	if len(m.data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, m.data...)
	}
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendInt(dst, c.nextID, 10)
	dst = append(dst, `,"at":`...)
	dst = append(dst, m.at...)
	return append(dst, '}')
}
