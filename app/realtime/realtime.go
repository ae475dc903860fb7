// Package realtime delivers live task events to every open connection of a
// user, and to nobody else: a Hub keeps one room per signed-in user with that
// user's WebSocket and Server-Sent Events connections on this instance.
//
// Every connection has a bounded send queue. Publishing never waits on a
// client: a connection whose queue is full is disconnected (WebSocket close
// 1013, or the end of the SSE stream) and the client reconnects and reloads.
// Heartbeats (WebSocket pings, SSE comment lines) keep idle connections open
// through proxies and find dead peers.
//
// With a Bus (PostgreSQL's LISTEN/NOTIFY, package pgbus) events cross every
// instance sharing the database and are delivered only from the bus, so all
// instances deliver one user's events in the same order. Without one (SQLite)
// they are delivered in process. docs/realtime.md describes the protocol.
package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/todo-app/todo/models"
)

// Message types, the "type" of every message a client receives.
const (
	TypeHello         = "hello"
	TypeTaskCreated   = "task.created"
	TypeTaskUpdated   = "task.updated"
	TypeTaskCompleted = "task.completed"
	TypeTaskDeleted   = "task.deleted"
	TypeStatsUpdated  = "stats.updated"
)

// Close codes the server ends a WebSocket with (RFC 6455 section 7.4.1).
// An SSE stream simply ends; the client cannot tell these apart.
const (
	// CloseGoingAway: the server is shutting down; reconnect (to another
	// instance) after a short delay.
	CloseGoingAway = 1001
	// ClosePolicyViolation: the session the connection was opened with has
	// ended (sign-out, refresh rotation, expiry); reconnect only with a valid
	// session.
	ClosePolicyViolation = 1008
	// CloseServiceRestart: events may have been lost (the PostgreSQL listener
	// reconnected); reconnect and reload.
	CloseServiceRestart = 1012
	// CloseTryAgainLater: the client fell too far behind; reconnect with
	// backoff and reload.
	CloseTryAgainLater = 1013
)

// Defaults for Options.
const (
	DefaultQueueSize    = 64
	DefaultHeartbeat    = 30 * time.Second
	DefaultPongTimeout  = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	// DefaultRoomBacklog bounds the events waiting to be processed for one
	// user (while the stats of an earlier one load); beyond it the user's
	// connections are told to reload instead.
	DefaultRoomBacklog = 1024
)

// Message is what a client receives: one JSON object per WebSocket text
// message or SSE "data:" line. ID counts the messages of one connection from
// 1 (hello); At is when the event happened, RFC 3339 UTC with milliseconds.
type Message struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	ID   int64           `json:"id"`
	At   string          `json:"at"`
}

// Hello is the data of the first message on every connection.
type Hello struct {
	UserID string `json:"user_id"`
	// SessionExpiresAt is when the session the connection was opened with
	// expires (as known when it opened); the server closes the connection
	// then (1008) unless it was closed before.
	SessionExpiresAt *models.Time `json:"session_expires_at"`
	// HeartbeatSeconds is the interval of the server's pings (WebSocket) or
	// comment lines (SSE); a client that hears nothing for about twice this
	// long may assume the connection is dead and reconnect.
	HeartbeatSeconds int `json:"heartbeat_seconds"`
}

// Subscriber is who a connection belongs to.
type Subscriber struct {
	UserID           string
	SessionID        string
	SessionExpiresAt time.Time
}

// Bus carries events between the instances that share a database.
type Bus interface {
	// Publish sends payload to every instance, this one included.
	Publish(ctx context.Context, payload []byte) error
	// MaxPayload is the size of the largest payload Publish accepts; 0 means
	// no limit.
	MaxPayload() int
	// Run receives payloads until ctx ends, calling deliver for each in the
	// order the bus delivers them (never concurrently). It calls ready each
	// time it starts receiving; from the second call on, payloads published
	// while it was not receiving were lost.
	Run(ctx context.Context, deliver func(payload []byte), ready func())
}

// Options configures a Hub. Zero values take the defaults.
type Options struct {
	// QueueSize is how many messages may wait for one connection; a
	// connection with a full queue is disconnected.
	QueueSize int
	// Heartbeat is the interval of WebSocket pings and SSE ": ping" lines.
	Heartbeat time.Duration
	// PongTimeout is how long after a ping's interval a WebSocket peer may
	// stay silent before it is considered dead.
	PongTimeout time.Duration
	// WriteTimeout bounds each write to a connection; a peer that does not
	// take a message within it is disconnected.
	WriteTimeout time.Duration
	// RoomBacklog bounds one user's unprocessed events.
	RoomBacklog int

	// Stats loads the dashboard stats sent as "stats.updated" after changes;
	// nil sends none.
	Stats func(ctx context.Context, userID string) (any, error)
	// Task loads a task when an event arrived from the bus as a reference
	// (its JSON was too large for a notification). It returns
	// models.ErrNotFound for a task that no longer exists.
	Task func(ctx context.Context, userID string, id int64) (*models.Task, error)

	// Bus, when set, carries events between instances; nil delivers in
	// process.
	Bus Bus
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = DefaultPongTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.RoomBacklog <= 0 {
		o.RoomBacklog = DefaultRoomBacklog
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
