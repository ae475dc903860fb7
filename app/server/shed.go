package server

import (
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/routes"
)

// ShedRetryAfter is the Retry-After, in seconds, of a request refused for
// overload. A burst that fills every slot drains in milliseconds to a few
// hundred of them, so one second spreads the retries without keeping clients
// away longer than the overload lasts.
const ShedRetryAfter = 1

// shedLogEvery is how often, at most, shedding is reported in the log, so an
// overload does not add a warning per refused request to the work it causes.
const shedLogEvery = 10 * time.Second

// ShedOptions configures Shed.
type ShedOptions struct {
	// MaxInflight is how many requests may be handled at once; it must be
	// at least 1.
	MaxInflight int
	// QueueTimeout is how long a request waits for a slot before it is
	// refused; 0 refuses it at once.
	QueueTimeout time.Duration
	// Logger receives the periodic "shedding" warning; nil discards it.
	Logger *slog.Logger
}

// mountShedding puts Shed on the /api group as the configuration says, or
// nothing when server.max_inflight is 0.
func mountShedding(api fiber.Router, cfg config.Server, log *slog.Logger) {
	if cfg.MaxInflight <= 0 {
		return
	}
	api.Use(Shed(ShedOptions{MaxInflight: cfg.MaxInflight, QueueTimeout: cfg.QueueTimeout, Logger: log}))
}

// Shed bounds the requests being handled at once. Past the bound, a request
// waits up to QueueTimeout for a slot, then gets 503 with Retry-After: a
// quick refusal the client can retry, instead of every request slowing down
// together while the queues in front of the database grow without limit.
//
// The live-update endpoints are never counted: their handlers hand the
// connection to the realtime hub and return at once, and a socket
// reconnecting after a restart should not be turned away by the burst of
// ordinary requests that comes with it. Sockets are bounded by the rate
// limit on their upgrade and by the hub's per-connection queues.
func Shed(o ShedOptions) fiber.Handler {
	slots := make(chan struct{}, max(o.MaxInflight, 1))
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		refused atomic.Uint64 // since the last warning
		lastLog atomic.Int64  // unix nanoseconds of the last warning
	)
	problem := routes.NewProblem(fiber.StatusServiceUnavailable,
		"The server is overloaded; retry after the number of seconds in Retry-After.")
	retryAfter := strconv.Itoa(ShedRetryAfter)

	return func(c *fiber.Ctx) error {
		if isLongLived(c.Path()) {
			return c.Next()
		}
		select {
		case slots <- struct{}{}:
		default:
			if !acquire(slots, o.QueueTimeout) {
				refused.Add(1)
				if now, last := time.Now().UnixNano(), lastLog.Load(); now-last >= int64(shedLogEvery) && lastLog.CompareAndSwap(last, now) {
					log.Warn("overloaded: refusing /api requests with 503",
						"refused", refused.Swap(0),
						"max_inflight", o.MaxInflight,
						"queue_timeout", o.QueueTimeout.String())
				}
				// Written here rather than returned to the error handler,
				// which logs every 5xx as a failure: a refusal is the
				// server protecting itself, and the request log line
				// already records it with its status and request id.
				c.Set(fiber.HeaderRetryAfter, retryAfter)
				return routes.WriteProblem(c, problem)
			}
		}
		defer func() { <-slots }()
		return c.Next()
	}
}

// acquire waits up to wait for a slot.
func acquire(slots chan struct{}, wait time.Duration) bool {
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

// isLongLived reports whether path is /api/ws or /api/events, matched as
// the router matches them: case-insensitively, with or without a trailing
// slash.
func isLongLived(path string) bool {
	p := strings.TrimSuffix(path, "/")
	return strings.EqualFold(p, "/api/ws") || strings.EqualFold(p, "/api/events")
}
