// Package ratelimit limits /api requests (SPEC §7) with Fiber's fixed-window
// limiter: a general budget per signed-in user (per client address when
// anonymous), and a per-address budget of its own for sign-up and sign-in.
//
// Every response of a limited route carries the IETF draft headers
// RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (delta seconds);
// a request over a limit gets a 429 problem with Retry-After. When both
// limits apply to a request, the headers describe the one with fewer
// requests remaining. Counters live in this process's memory: see
// docs/ratelimit.md for what that means with several instances.
package ratelimit

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/todo-app/todo/app/clientip"
	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/routes"
)

// The headers every limited response carries (draft-ietf-httpapi-ratelimit-headers).
const (
	HeaderLimit     = "RateLimit-Limit"
	HeaderRemaining = "RateLimit-Remaining"
	HeaderReset     = "RateLimit-Reset"
)

// The names Fiber's limiter writes; they are renamed before the response leaves.
const (
	fiberLimit     = "X-RateLimit-Limit"
	fiberRemaining = "X-RateLimit-Remaining"
	fiberReset     = "X-RateLimit-Reset"
)

// AuthPaths are the sign-up and sign-in endpoints, relative to the /api
// group, whose POSTs also count against the per-address auth budget.
var AuthPaths = []string{"/auth/signup", "/auth/login", "/auth/sign-up/email", "/auth/sign-in/email"}

// Options configures the limits.
type Options struct {
	// PerMinute is the general budget per user or anonymous client per window.
	PerMinute int
	// AuthPerMinute is the sign-up/sign-in budget per client address per window.
	AuthPerMinute int
	// Window is the length of a window; zero means one minute.
	Window time.Duration
	// UserID returns the signed-in user's id, or "" for an anonymous request.
	UserID func(*fiber.Ctx) string
	// ClientIP returns the client's address (through trusted proxies only).
	ClientIP func(*fiber.Ctx) string
}

// Limits holds the two limiters. Each has its own in-memory counters.
type Limits struct {
	// General limits every request it sees by user, or by address when anonymous.
	General fiber.Handler
	// Auth limits every request it sees by address, in the auth budget.
	Auth fiber.Handler
}

// Mount installs the limits configured in cfg on the /api group, which must
// already run the authentication middleware (the general key is the
// signed-in user). Call it before registering any route on api. It does
// nothing when rate limiting is disabled.
func Mount(api fiber.Router, cfg config.RateLimit, ips *clientip.Resolver) {
	if !cfg.Enabled {
		return
	}
	New(Options{
		PerMinute:     cfg.PerMinute,
		AuthPerMinute: cfg.AuthPerMinute,
		UserID: func(c *fiber.Ctx) string {
			if u := routes.CurrentUser(c); u != nil {
				return u.ID
			}
			return ""
		},
		ClientIP: func(c *fiber.Ctx) string { return routes.ClientIP(c, ips) },
	}).Mount(api)
}

// Mount puts the general limit on every route of api and the auth limit on
// the POST routes in AuthPaths. Registering the auth limit as routes, rather
// than comparing paths, makes it match exactly what the handlers match
// (case-insensitively, with or without a trailing slash).
func (l *Limits) Mount(api fiber.Router) {
	api.Use(l.General)
	for _, p := range AuthPaths {
		api.Post(p, l.Auth)
	}
}

// New builds the two limiters.
func New(o Options) *Limits {
	window := o.Window
	if window <= 0 {
		window = time.Minute
	}
	general := limiter.New(limiter.Config{
		Max:        o.PerMinute,
		Expiration: window,
		KeyGenerator: func(c *fiber.Ctx) string {
			if id := o.UserID(c); id != "" {
				return "u:" + id
			}
			return "ip:" + addressKey(o.ClientIP(c))
		},
		LimitReached:      limitReached(o.PerMinute, "Too many requests; retry after the number of seconds in Retry-After."),
		LimiterMiddleware: limiter.FixedWindow{},
	})
	auth := limiter.New(limiter.Config{
		Max:        o.AuthPerMinute,
		Expiration: window,
		KeyGenerator: func(c *fiber.Ctx) string {
			return "ip:" + addressKey(o.ClientIP(c))
		},
		LimitReached:      limitReached(o.AuthPerMinute, "Too many sign-up or sign-in attempts from this address; retry after the number of seconds in Retry-After."),
		LimiterMiddleware: limiter.FixedWindow{},
	})
	return &Limits{General: publishing(general), Auth: publishing(auth)}
}

// addressKey is the budget an address belongs to: the address itself for
// IPv4, its /64 for IPv6, since a single host or subscriber usually holds a
// whole /64 and could otherwise rotate through 2^64 budgets (and as many
// counters in memory).
func addressKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr.WithZone(""), 64).Masked().String()
}

// limitReached answers a request over the limit. Fiber's limiter has set
// Retry-After but none of its rate headers on this path, so they are written
// here for publishing to rename like any other.
func limitReached(limit int, detail string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiberLimit, strconv.Itoa(limit))
		c.Set(fiberRemaining, "0")
		c.Set(fiberReset, string(c.Response().Header.Peek(fiber.HeaderRetryAfter)))
		c.Locals(rejectedKey, true)
		return routes.NewProblem(fiber.StatusTooManyRequests, detail)
	}
}

type ctxKey int

const (
	// stateKey holds the reading published so far by an inner limiter.
	stateKey ctxKey = iota
	// rejectedKey is set when a limiter refused the request.
	rejectedKey
)

// reading is one limiter's view of the request's budget.
type reading struct {
	limit     int
	remaining int
	reset     uint64
}

// tighter reports whether r should be reported instead of o: fewer requests
// remaining, or as few and a later reset (the client must wait for both).
func (r reading) tighter(o reading) bool {
	if r.remaining != o.remaining {
		return r.remaining < o.remaining
	}
	return r.reset > o.reset
}

// publishing runs a Fiber limiter, then replaces the X-RateLimit-* headers
// it wrote with the RateLimit-* ones, keeping the tighter of this reading
// and any an inner limiter published. Fiber sets its headers after the rest
// of the chain returns, error or not, so error responses written later by
// the error handler keep them.
func publishing(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := h(c)
		publish(c)
		return err
	}
}

func publish(c *fiber.Ctx) {
	hdr := &c.Response().Header
	limit, err1 := strconv.Atoi(string(hdr.Peek(fiberLimit)))
	remaining, err2 := strconv.Atoi(string(hdr.Peek(fiberRemaining)))
	reset, err3 := strconv.ParseUint(string(hdr.Peek(fiberReset)), 10, 64)
	hdr.Del(fiberLimit)
	hdr.Del(fiberRemaining)
	hdr.Del(fiberReset)
	if err1 != nil || err2 != nil || err3 != nil {
		return
	}
	cur := reading{limit: limit, remaining: max(remaining, 0), reset: reset}
	if prev, ok := c.Locals(stateKey).(reading); ok && !cur.tighter(prev) {
		cur = prev
	}
	c.Locals(stateKey, cur)
	c.Set(HeaderLimit, strconv.Itoa(cur.limit))
	c.Set(HeaderRemaining, strconv.Itoa(cur.remaining))
	c.Set(HeaderReset, strconv.FormatUint(cur.reset, 10))
	if rejected, _ := c.Locals(rejectedKey).(bool); rejected {
		// The client may not succeed before every exhausted budget resets.
		c.Set(fiber.HeaderRetryAfter, strconv.FormatUint(cur.reset, 10))
	}
}
