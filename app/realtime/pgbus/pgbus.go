// Package pgbus carries realtime events between the instances that share a
// PostgreSQL database, with NOTIFY and LISTEN.
//
// Every instance LISTENs on one channel on a dedicated connection
// (pgdriver.Listener) and publishes with pg_notify on its pool, and delivers
// only what it receives, its own notifications included. PostgreSQL hands
// notifications to every listener in the order their transactions committed,
// so every instance sees one user's events in the same order.
//
// Each notification costs a round trip and a commit that PostgreSQL
// serializes with every other notifying commit, so an instance sends one at a
// time and batches like a group commit: events published while a
// notification is in flight queue up and go together, in order, in the next
// one (or the next few, as each stays within MaxPayload). A notification may
// thus carry several events separated by newlines, which receivers split;
// compact JSON never contains a raw newline, and Publish refuses payloads
// that do. Nothing waits to fill a batch: an event published while no
// notification is in flight is sent at once. Publish returns only after the
// notification carrying its event has been sent.
//
// The listener's health is checked with a ping through the database (a
// notification on a channel of this instance's own) whenever it has been
// idle for PingInterval; a connection that fails, or a ping that does not
// come back, is replaced, with backoff while the database is unreachable.
// Notifications sent while no connection was listening are lost, so after a
// reconnect the hub is told (ready) and makes its clients reload.
package pgbus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// Channel is the notification channel events travel on.
const Channel = "todo_events"

// MaxPayload is the largest payload PostgreSQL accepts in a notification
// (it must be shorter than 8000 bytes in the default configuration), and so
// the largest event, and the most bytes a batch of events may take.
const MaxPayload = 7999

// Defaults.
const (
	DefaultPingInterval = 15 * time.Second
	DefaultPingTimeout  = 5 * time.Second
	maxBackoff          = 10 * time.Second
	minBackoff          = 250 * time.Millisecond
	initialPingRetry    = 100 * time.Millisecond
)

// Bus is a realtime.Bus on PostgreSQL.
type Bus struct {
	db           *bun.DB
	log          *slog.Logger
	channel      string
	pingChannel  string
	pingInterval time.Duration
	pingTimeout  time.Duration

	// notify sends one notification; tests hold it to stall the sender.
	notify func(ctx context.Context, payload string) error

	mu      sync.Mutex
	queue   []*pending // waiting for the sender, oldest first
	sending bool       // a sender goroutine runs
}

// Options configures a Bus; zero values take the defaults.
type Options struct {
	// Channel overrides the event channel (tests isolate themselves with it).
	Channel      string
	PingInterval time.Duration
	PingTimeout  time.Duration
	Logger       *slog.Logger
}

// New builds a bus on db, which must be a pgdriver database (database.DB's
// Write pool on PostgreSQL).
func New(db *bun.DB, o Options) *Bus {
	b := &Bus{db: db, log: o.Logger, channel: o.Channel, pingInterval: o.PingInterval, pingTimeout: o.PingTimeout}
	if b.channel == "" {
		b.channel = Channel
	}
	if b.pingInterval <= 0 {
		b.pingInterval = DefaultPingInterval
	}
	if b.pingTimeout <= 0 {
		b.pingTimeout = DefaultPingTimeout
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	b.pingChannel = b.channel + "_ping_" + hex.EncodeToString(id[:])
	b.notify = b.execNotify
	return b
}

// MaxPayload implements realtime.Bus.
func (b *Bus) MaxPayload() int { return MaxPayload }

// ErrNewline is returned for a payload containing a newline, which would be
// taken for two events by the receivers.
var ErrNewline = errors.New("pgbus: payload contains a newline")

// Publish implements realtime.Bus: the payload is delivered to every
// listener (this instance's too) in a NOTIFY it may share with others.
// Publish returns once that NOTIFY has been sent, with its error; if ctx ends
// before the payload was taken into one, the payload is never sent and
// Publish returns ctx.Err().
func (b *Bus) Publish(ctx context.Context, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("pgbus: payload of %d bytes exceeds the limit of %d", len(payload), MaxPayload)
	}
	if bytes.IndexByte(payload, '\n') >= 0 {
		return ErrNewline
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pending{ctx: ctx, payload: payload, result: make(chan error, 1)}
	b.enqueue(p)
	select {
	case err := <-p.result:
		return err
	case <-ctx.Done():
	}
	if b.abandon(p) {
		return ctx.Err()
	}
	return <-p.result
}

func (b *Bus) execNotify(ctx context.Context, payload string) error {
	_, err := b.db.ExecContext(ctx, "SELECT pg_notify(?, ?)", b.channel, payload)
	return err
}

// Run implements realtime.Bus: it listens until ctx ends, reconnecting with
// backoff whenever the listening connection fails.
func (b *Bus) Run(ctx context.Context, deliver func([]byte), ready func()) {
	backoff := minBackoff
	for ctx.Err() == nil {
		started := time.Now()
		err := b.listen(ctx, deliver, ready)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			backoff = minBackoff
		}
		b.log.Warn("realtime: PostgreSQL listener failed; reconnecting", "error", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// errPingLost means a ping sent through the database did not come back.
var errPingLost = errors.New("listener ping did not arrive")

// listen runs one listening connection until it fails or ctx ends.
func (b *Bus) listen(ctx context.Context, deliver func([]byte), ready func()) error {
	ln := pgdriver.NewListener(b.db)
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer func() {
		if stop() {
			_ = ln.Close()
		}
	}()
	if err := ln.Listen(ctx, b.channel, b.pingChannel); err != nil {
		return err
	}
	// LISTEN is only written, not confirmed: a ping's return (or any other
	// notification) proves the connection listens before the hub is told it
	// is ready. Until then the ping is repeated, since the first may
	// overtake the LISTEN.
	if err := b.ping(ctx); err != nil {
		return err
	}
	firstPing, pingSent, listening := time.Now(), time.Now(), false
	for {
		var wait time.Duration
		switch {
		case !listening:
			wait = initialPingRetry
		case pingSent.IsZero():
			wait = b.pingInterval
		default:
			wait = max(time.Until(pingSent.Add(b.pingTimeout)), time.Millisecond)
		}
		channel, payload, err := ln.ReceiveTimeout(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !isTimeout(err) {
				return err
			}
			switch {
			case !listening && time.Since(firstPing) > b.pingTimeout:
				return errPingLost
			case listening && !pingSent.IsZero():
				return errPingLost
			}
			if err := b.ping(ctx); err != nil {
				return err
			}
			pingSent = time.Now()
			continue
		}
		// Any notification proves the connection listens, not only a ping:
		// while events keep arriving no receive times out, so a first ping
		// that overtook the LISTEN would never be repeated, the hub never
		// told (no 1012 reload after an outage), and the ping finally
		// declared lost in the first lull.
		if !listening {
			listening = true
			pingSent = time.Time{}
			ready()
		}
		switch channel {
		case b.pingChannel:
			pingSent = time.Time{}
		case b.channel:
			for part := range strings.SplitSeq(payload, "\n") {
				deliver([]byte(part))
			}
		}
	}
}

func (b *Bus) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.pingTimeout)
	defer cancel()
	_, err := b.db.ExecContext(ctx, "SELECT pg_notify(?, '')", b.pingChannel)
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
