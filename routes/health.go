package routes

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Pinger checks that the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

type healthBody struct {
	Status   string `json:"status"`
	API      string `json:"api"`
	Database string `json:"database"`
	Version  string `json:"version"`
}

// Health answers GET /health: 200 while the database answers a ping within
// timeout, 503 otherwise, so orchestrators take a degraded instance out of
// rotation and put it back once the database returns.
func Health(db Pinger, version string, timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), timeout)
		defer cancel()
		c.Set(fiber.HeaderCacheControl, "no-store")
		body := healthBody{Status: "healthy", API: "running", Database: "connected", Version: version}
		if err := db.Ping(ctx); err != nil {
			body.Status, body.Database = "degraded", "unreachable"
			return c.Status(fiber.StatusServiceUnavailable).JSON(body)
		}
		return c.JSON(body)
	}
}
