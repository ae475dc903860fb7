package server

import (
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"github.com/todo-app/todo/routes"
)

// recoverPanics turns a panic into a 500 through the error handler; the stack
// goes to the log only, never to the client.
func recoverPanics(log *slog.Logger) fiber.Handler {
	return recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			log.Error("panic in handler",
				"request_id", routes.RequestID(c),
				"method", c.Method(),
				"path", c.Path(),
				"panic", fmt.Sprint(e),
				"stack", string(debug.Stack()))
		},
	})
}

// validRequestID limits the ids accepted from clients or proxies to a safe
// alphabet and length, so a hostile header cannot forge log lines or bloat them.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID keeps a well-formed incoming X-Request-ID (set by a proxy, so the
// two logs can be joined) and otherwise generates one.
func requestID() fiber.Handler {
	next := requestid.New(requestid.Config{Header: fiber.HeaderXRequestID, ContextKey: "requestid"})
	return func(c *fiber.Ctx) error {
		if id := c.Get(fiber.HeaderXRequestID); id != "" && !validRequestID.MatchString(id) {
			c.Request().Header.Del(fiber.HeaderXRequestID)
		}
		return next(c)
	}
}

// requestLogger writes one structured line per request. Health probes run
// every few seconds in containers, so they are logged at debug level.
func requestLogger(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			// Let the error handler write the response now so the logged
			// status is the one the client receives.
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		level := slog.LevelInfo
		if c.Path() == "/health" {
			level = slog.LevelDebug
		}
		log.Log(c.UserContext(), level, "request",
			"request_id", routes.RequestID(c),
			"method", c.Method(),
			"path", c.Path(),
			"status", c.Response().StatusCode(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"bytes", len(c.Response().Body()),
			"ip", c.IP())
		return nil
	}
}

// contentSecurityPolicy allows only the server's own scripts, styles, images
// and sockets, and no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(https bool) fiber.Handler {
	headers := helmet.New(helmet.Config{
		XSSProtection:             "0",
		ContentTypeNosniff:        "nosniff",
		XFrameOptions:             "DENY",
		ReferrerPolicy:            "strict-origin-when-cross-origin",
		ContentSecurityPolicy:     contentSecurityPolicy,
		CrossOriginOpenerPolicy:   "same-origin",
		CrossOriginResourcePolicy: "same-origin",
		PermissionPolicy:          "camera=(), microphone=(), geolocation=()",
	})
	if !https {
		return headers
	}
	// The public URL says the site is served over https (usually by a proxy
	// in front), so HSTS is sent whatever the hop to this server used.
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000; includeSubDomains")
		return headers(c)
	}
}

// corsForTrustedOrigins lets the configured origins, and only those, call the
// API with credentials from the browser.
func corsForTrustedOrigins(origins []string) fiber.Handler {
	trimmed := make([]string, len(origins))
	for i, o := range origins {
		trimmed[i] = trimOrigin(o)
	}
	return cors.New(cors.Config{
		AllowOrigins:     strings.Join(trimmed, ","),
		AllowCredentials: true,
		AllowMethods:     "GET,POST,PUT,PATCH,DELETE,OPTIONS",
		AllowHeaders:     "Authorization,Content-Type,If-Match,If-None-Match,X-Request-ID",
		ExposeHeaders:    "ETag,Location,X-Request-ID,Retry-After,RateLimit-Limit,RateLimit-Remaining,RateLimit-Reset",
		MaxAge:           600,
	})
}
