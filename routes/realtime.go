package routes

import (
	"context"
	"errors"
	"log/slog"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/models"
)

// TaskEvents is told about every task change after it has committed, so the
// user's open connections hear of it. *realtime.Hub implements it.
//
// The task handlers call, after the store call returned without error and
// only when something changed:
//
//	TaskChanged(ctx, userID, EventTaskCreated, task)   // POST /api/tasks
//	TaskChanged(ctx, userID, EventTaskCompleted, task) // status went false -> true
//	TaskChanged(ctx, userID, EventTaskUpdated, task)   // any other change
//	TaskDeleted(ctx, userID, id)                       // DELETE
//
// with the task exactly as the response carries it. The calls do not block
// on clients; with PostgreSQL they wait for one NOTIFY.
type TaskEvents interface {
	TaskChanged(ctx context.Context, userID, kind string, task *models.Task)
	TaskDeleted(ctx context.Context, userID string, id int64)
}

// Kinds of TaskEvents.TaskChanged.
const (
	EventTaskCreated   = realtime.TypeTaskCreated
	EventTaskUpdated   = realtime.TypeTaskUpdated
	EventTaskCompleted = realtime.TypeTaskCompleted
)

// NoTaskEvents discards every event (for handlers built without a hub).
type NoTaskEvents struct{}

// TaskChanged implements TaskEvents.
func (NoTaskEvents) TaskChanged(context.Context, string, string, *models.Task) {}

// TaskDeleted implements TaskEvents.
func (NoTaskEvents) TaskDeleted(context.Context, string, int64) {}

var _ TaskEvents = (*realtime.Hub)(nil)

var (
	errRealtimeOrigin = NewProblem(fiber.StatusForbidden,
		"Cross-site request refused: Origin is not trusted.")
	errUpgradeRequired = NewProblem(fiber.StatusUpgradeRequired,
		"This endpoint speaks WebSocket only; send an Upgrade: websocket request.")
	errShuttingDown = NewProblem(fiber.StatusServiceUnavailable,
		"The server is shutting down; reconnect shortly.")
)

// RegisterRealtime mounts GET /api/ws (WebSocket) and GET /api/events
// (Server-Sent Events) under api, the /api group whose middleware has
// authenticated the request. Both answer 403 to an untrusted Origin and 401
// to a request without a valid session, before any upgrade.
func RegisterRealtime(api fiber.Router, a *Authn, hub *realtime.Hub, log *slog.Logger) {
	_ = log // the hub logs what goes wrong on a connection
	api.Get("/ws", a.realtimeGuard, func(c *fiber.Ctx) error {
		if !websocket.FastHTTPIsWebSocketUpgrade(c.Context()) {
			c.Set(fiber.HeaderUpgrade, "websocket")
			return errUpgradeRequired
		}
		if hub.Closing() {
			return errShuttingDown
		}
		switch err := hub.UpgradeWebSocket(c, subscriberOf(c)); {
		case errors.Is(err, realtime.ErrBadHandshake):
			c.Set(fiber.HeaderUpgrade, "websocket")
			c.Set("Sec-WebSocket-Version", "13")
			return errUpgradeRequired
		case errors.Is(err, realtime.ErrClosed):
			return errShuttingDown
		default:
			return err
		}
	})
	api.Get("/events", a.realtimeGuard, func(c *fiber.Ctx) error {
		if hub.Closing() {
			return errShuttingDown
		}
		return hub.ServeSSE(c, subscriberOf(c))
	})
}

// realtimeGuard admits a signed-in user from a trusted page. A browser
// always sends Origin with a WebSocket handshake (and with a cross-origin
// EventSource), so a present Origin must be the server's own or a trusted
// one; a non-browser client without one is allowed, except that a browser
// saying the request is cross-site is refused even without it.
func (a *Authn) realtimeGuard(c *fiber.Ctx) error {
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		if !a.isTrustedOrigin(c, origin) {
			return errRealtimeOrigin
		}
	} else if c.Get("Sec-Fetch-Site") == "cross-site" {
		return errRealtimeOrigin
	}
	if CurrentUser(c) == nil {
		return ErrUnauthenticated
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

func subscriberOf(c *fiber.Ctx) realtime.Subscriber {
	sub := realtime.Subscriber{UserID: CurrentUser(c).ID}
	if s := CurrentSession(c); s != nil {
		sub.SessionID = s.ID
		sub.SessionExpiresAt = s.ExpiresAt.Time
	}
	return sub
}
