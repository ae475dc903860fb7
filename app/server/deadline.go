package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// databaseDeadline gives every request's context a deadline of d (the
// database.query_timeout). The drivers' socket timeouts bound a query once it
// has a connection, but not the wait for one: while the database hangs, every
// pooled connection is stuck in a query and further requests would queue for
// the pool with no limit at all, long past the timeout. With the deadline
// they fail with 503 after d like the rest. WebSockets and event streams do
// not use the request's context once upgraded, so they are not cut by it.
func databaseDeadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if d <= 0 {
			return c.Next()
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}
