package routes_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/routes"
)

// A sign-in refused because password checks are saturated is a 503 the
// client may retry, like overload, and is not logged as a failure.
func TestErrorHandlerHashingBusy(t *testing.T) {
	var logged bytes.Buffer
	app := fiber.New(fiber.Config{ErrorHandler: routes.ErrorHandler(slog.New(slog.NewTextHandler(&logged, nil)), nil)})
	app.Post("/login", func(c *fiber.Ctx) error { return fmt.Errorf("sign in: %w", auth.ErrBusy) })
	resp, err := app.Test(httptest.NewRequest("POST", "/login", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != fiber.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("Content-Type") != routes.ProblemContentType || strings.Contains(string(body), "saturated") {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
	if logged.Len() != 0 {
		t.Fatalf("logged: %s", logged.String())
	}
}
