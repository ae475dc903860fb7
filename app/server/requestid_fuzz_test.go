package server

import (
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// FuzzRequestID feeds arbitrary X-Request-ID values, which proxies and
// clients set and which go into every log line and back out in the
// response. The id a request ends up with must always be in the safe
// alphabet and at most 128 characters, and is the one sent exactly when
// that was already so.
func FuzzRequestID(f *testing.F) {
	for _, seed := range []string{"proxy-1234.abc", "a:b_c", "", " ", "a b", "<script>", "x\r\nSet-Cookie: a=b", "\x00",
		"é", "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"} {
		f.Add(seed)
	}
	app := fiber.New()
	app.Use(requestID())
	var seen string
	app.Get("/", func(c *fiber.Ctx) error {
		seen, _ = c.Locals("requestid").(string)
		return c.SendStatus(fiber.StatusNoContent)
	})
	handler := app.Handler()
	f.Fuzz(func(t *testing.T, id string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/")
		ctx.Request.Header.Set(fiber.HeaderXRequestID, id)
		sent := string(ctx.Request.Header.Peek(fiber.HeaderXRequestID))
		seen = ""
		handler(&ctx)
		got := string(ctx.Response.Header.Peek(fiber.HeaderXRequestID))
		if got != seen || !safeRequestID(got) {
			t.Fatalf("X-Request-ID %q became %q (handler saw %q)", sent, got, seen)
		}
		if (got == sent) != safeRequestID(sent) {
			t.Fatalf("X-Request-ID %q became %q", sent, got)
		}
	})
}

// safeRequestID is the rule spelled out without the middleware's regexp.
func safeRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}
