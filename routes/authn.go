package routes

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/app/clientip"
	"github.com/todo-app/todo/models"
)

// Authn resolves who is making a request and guards cookie-authenticated
// requests against cross-site forgery. Later routes read the result with
// CurrentUser and CurrentSession.
type Authn struct {
	svc          *auth.Service
	secure       bool
	publicOrigin string
	trusted      map[string]bool
	ips          *clientip.Resolver
	// onSessionEnd, when set, hears of every session this server ends
	// (sign-out, refresh rotation) so live connections opened with it close.
	onSessionEnd func(sessionID string)
}

// AuthnOptions configures Authn.
type AuthnOptions struct {
	Service *auth.Service
	// PublicURL is the server's own URL; empty means the request's own origin.
	PublicURL      string
	TrustedOrigins []string
	SecureCookies  bool
	ClientIPs      *clientip.Resolver
	// OnSessionEnd is called with the id of every session that signs out or
	// is replaced by a refresh (the realtime hub closes its connections).
	OnSessionEnd func(sessionID string)
}

// NewAuthn builds the authentication middleware's state.
func NewAuthn(o AuthnOptions) *Authn {
	a := &Authn{
		svc:          o.Service,
		secure:       o.SecureCookies,
		publicOrigin: originOf(o.PublicURL),
		trusted:      make(map[string]bool, len(o.TrustedOrigins)),
		ips:          o.ClientIPs,
		onSessionEnd: o.OnSessionEnd,
	}
	for _, t := range o.TrustedOrigins {
		a.trusted[originOf(t)] = true
	}
	return a
}

type authKey int

const (
	userKey authKey = iota
	sessionKey
	viaCookieKey
)

// sessionEnded reports a session that no longer exists to the hook.
func (a *Authn) sessionEnded(sessionID string) {
	if a.onSessionEnd != nil {
		a.onSessionEnd(sessionID)
	}
}

// CurrentUser is the signed-in user, or nil.
func CurrentUser(c *fiber.Ctx) *models.User {
	u, _ := c.Locals(userKey).(*models.User)
	return u
}

// CurrentSession is the session the request was authenticated with, or nil.
func CurrentSession(c *fiber.Ctx) *models.Session {
	s, _ := c.Locals(sessionKey).(*models.Session)
	return s
}

// ErrUnauthenticated is the 401 for routes that need a signed-in user.
var ErrUnauthenticated = NewProblem(fiber.StatusUnauthorized, "Sign in to use this endpoint.")

// RequireUser lets only signed-in requests through.
func RequireUser(c *fiber.Ctx) error {
	if CurrentUser(c) == nil {
		return ErrUnauthenticated
	}
	return c.Next()
}

// Load is the middleware that authenticates the request by Bearer token or
// session cookie (one indexed query), applies the sliding refresh, and, for
// unsafe methods sent with a session cookie, demands a trusted Origin.
func (a *Authn) Load(c *fiber.Ctx) error {
	token, viaCookie := a.credential(c)
	if viaCookie && isUnsafe(c.Method()) && !a.originAllowed(c) {
		return originProblem(c)
	}
	if token == "" {
		return c.Next()
	}
	sess, user, refreshed, err := a.svc.Authenticate(c.UserContext(), token, viaCookie && a.dontRemember(c))
	if errors.Is(err, auth.ErrNoSession) {
		return c.Next()
	}
	if err != nil {
		return err
	}
	c.Locals(userKey, user)
	c.Locals(sessionKey, sess)
	c.Locals(viaCookieKey, viaCookie)
	if refreshed && viaCookie {
		a.setSessionCookie(c, sess, true)
	}
	return c.Next()
}

// credential finds the session token: a Bearer header wins over a cookie,
// since a page on another site cannot set one. Another scheme (a proxy's
// Basic credentials, say) leaves the cookie in charge.
func (a *Authn) credential(c *fiber.Ctx) (token string, viaCookie bool) {
	if h := c.Get(fiber.HeaderAuthorization); isBearer(h) {
		if t, ok := auth.TokenFromBearer(a.svc.Secret(), h); ok {
			return t, false
		}
		return "", false
	}
	raw := c.Cookies(auth.SessionCookieName(a.secure))
	if raw == "" {
		return "", false
	}
	// Even a cookie that fails verification makes this a cookie request for
	// the origin check: forged or not, the browser sent it.
	t, ok := auth.VerifySignedToken(a.svc.Secret(), raw)
	if !ok {
		return "", true
	}
	return t, true
}

func isBearer(header string) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(header), " ")
	return strings.EqualFold(scheme, "Bearer")
}

func (a *Authn) dontRemember(c *fiber.Ctx) bool {
	name := auth.DontRememberCookie
	if a.secure {
		name = auth.SecureDontRememberCookie
	}
	raw := c.Cookies(name)
	if raw == "" {
		return false
	}
	v, ok := auth.VerifySignedToken(a.svc.Secret(), raw)
	return ok && v == "true"
}

func isUnsafe(method string) bool {
	switch method {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return false
	}
	return true
}

// requestOrigin is the origin a browser declared: the Origin header, or the
// Referer's origin when Origin is absent. An explicit "null" (sandboxed or
// privacy-redirected contexts) stays "null" and is never trusted.
func requestOrigin(c *fiber.Ctx) string {
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		return origin
	}
	return originOf(c.Get(fiber.HeaderReferer))
}

// originAllowed checks the request's origin against the server's own origin
// and the trusted origins.
func (a *Authn) originAllowed(c *fiber.Ctx) bool {
	origin := requestOrigin(c)
	return origin != "" && origin != "null" && a.isTrustedOrigin(c, origin)
}

func (a *Authn) isTrustedOrigin(c *fiber.Ctx, origin string) bool {
	origin = strings.ToLower(origin)
	self := a.publicOrigin
	if self == "" {
		self = strings.ToLower(c.Protocol() + "://" + c.Hostname())
	}
	return origin == self || a.trusted[origin]
}

// signInProblem protects sign-in and sign-up, which carry no cookie, from
// login forgery, as Better Auth does: a cross-site navigation is refused, a
// browser that says the request is cross-site must name a trusted origin,
// and any Origin or Referer present must be trusted. A client that sends
// none of these headers is not a browser and is let through. It returns the
// Better Auth error code of a refusal, or "" when the request may proceed.
func (a *Authn) signInProblem(c *fiber.Ctx) string {
	site := c.Get("Sec-Fetch-Site")
	if site == "cross-site" && c.Get("Sec-Fetch-Mode") == "navigate" {
		return "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"
	}
	origin := requestOrigin(c)
	switch {
	case origin == "" && site == "cross-site":
		return "MISSING_OR_NULL_ORIGIN"
	case origin == "":
		return ""
	case origin == "null":
		return "MISSING_OR_NULL_ORIGIN"
	case !a.isTrustedOrigin(c, origin):
		return "INVALID_ORIGIN"
	}
	return ""
}

// originOf reduces a URL to scheme://host[:port], lower-cased, or "".
func originOf(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

func originProblem(c *fiber.Ctx) error {
	if isBetterAuthPath(c.Path()) {
		code := "INVALID_ORIGIN"
		if o := requestOrigin(c); o == "" || o == "null" {
			code = "MISSING_OR_NULL_ORIGIN"
		}
		return baOriginError(c, code)
	}
	return NewProblem(fiber.StatusForbidden, "Cross-site request refused: Origin is missing or not trusted.")
}

// clientInfo is what a new session records about the client.
func (a *Authn) clientInfo(c *fiber.Ctx) auth.Client {
	return auth.Client{IP: ClientIP(c, a.ips), UserAgent: truncate(c.Get(fiber.HeaderUserAgent), 512)}
}

// ClientIP is the requesting client's address, through trusted proxies.
func ClientIP(c *fiber.Ctx, ips *clientip.Resolver) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.IP()
	}
	if ips == nil {
		return peer.Unmap().String()
	}
	var xff []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), fiber.HeaderXForwardedFor) {
			xff = append(xff, string(v))
		}
	})
	return ips.ClientIP(peer, xff).String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// setSessionCookie sends the signed session cookie. A remembered session's
// cookie lives as long as the session; otherwise it ends with the browser.
func (a *Authn) setSessionCookie(c *fiber.Ctx, sess *models.Session, remember bool) {
	maxAge := -1
	if remember {
		// Sessions are written (or extended) with expiresAt = updatedAt +
		// lifetime, so this is the lifetime exactly, as Better Auth sends it.
		maxAge = int(sess.ExpiresAt.Sub(sess.UpdatedAt.Time).Seconds())
	}
	c.Response().Header.Add(fiber.HeaderSetCookie,
		a.cookie(auth.SessionCookieName(a.secure), auth.SignToken(a.svc.Secret(), sess.Token), maxAge))
	if !remember {
		name := auth.DontRememberCookie
		if a.secure {
			name = auth.SecureDontRememberCookie
		}
		c.Response().Header.Add(fiber.HeaderSetCookie, a.cookie(name, auth.SignToken(a.svc.Secret(), "true"), -1))
	}
}

// expireCookies tells the browser to drop every Better Auth cookie.
func (a *Authn) expireCookies(c *fiber.Ctx) {
	for _, name := range auth.SignOutCookieNames(a.secure) {
		c.Response().Header.Add(fiber.HeaderSetCookie, a.cookie(name, "", 0))
	}
}

// cookie formats a Set-Cookie value with Better Auth's attributes; maxAge -1
// leaves Max-Age out (a browser-session cookie).
func (a *Authn) cookie(name, value string, maxAge int) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(value)
	if maxAge >= 0 {
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.Itoa(maxAge))
	}
	b.WriteString("; Path=/; HttpOnly; SameSite=Lax")
	if a.secure {
		b.WriteString("; Secure")
	}
	return b.String()
}
