package routes

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/models"
)

// dashboardHandlers serves SPEC §5 from the store's aggregate queries.
type dashboardHandlers struct {
	store *models.Store
}

// RegisterDashboard mounts GET /api/dashboard/stats and
// GET /api/dashboard/overview, both for signed-in users only.
func RegisterDashboard(api fiber.Router, store *models.Store) {
	h := &dashboardHandlers{store: store}
	g := api.Group("/dashboard")
	g.Get("/stats", RequireUser, h.stats)
	g.Get("/overview", RequireUser, h.overview)
}

func (h *dashboardHandlers) stats(c *fiber.Ctx) error {
	st, err := h.store.TaskStats(c.UserContext(), CurrentUser(c).ID, models.Now())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(st)
}

func (h *dashboardHandlers) overview(c *fiber.Ctx) error {
	loc, ok := dashboardLocation(c.Query("tz"))
	if !ok {
		return ValidationProblem(FieldError{Field: "tz", Message: "must be an IANA time zone name such as Europe/Berlin"})
	}
	ov, err := h.store.Overview(c.UserContext(), CurrentUser(c).ID, models.Now(), loc)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(ov)
}

// dashboardLocation reads the tz parameter: an IANA zone name, UTC when
// absent or empty. "Local" (the server's own zone) is refused, as is
// anything time.LoadLocation would read as a path.
func dashboardLocation(tz string) (*time.Location, bool) {
	if tz == "" {
		return time.UTC, true
	}
	if tz == "Local" || len(tz) > 64 || strings.ContainsAny(tz, `\`) {
		return nil, false
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, false
	}
	return loc, true
}
