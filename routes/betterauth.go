package routes

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/models"
)

// The Better Auth-compatible endpoints answer with Better Auth's shapes,
// status codes and {"message","code"} errors, so the official client works
// against this server unchanged.

const betterAuthPrefix = "/api/auth/"

var betterAuthPaths = map[string]bool{
	"/api/auth/sign-up/email": true,
	"/api/auth/sign-in/email": true,
	"/api/auth/sign-out":      true,
	"/api/auth/get-session":   true,
}

func isBetterAuthPath(path string) bool {
	return strings.HasPrefix(path, betterAuthPrefix) && betterAuthPaths[strings.TrimRight(path, "/")]
}

type baUser struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Email         string      `json:"email"`
	EmailVerified bool        `json:"emailVerified"`
	Image         *string     `json:"image"`
	CreatedAt     models.Time `json:"createdAt"`
	UpdatedAt     models.Time `json:"updatedAt"`
}

func newBAUser(u *models.User) *baUser {
	return &baUser{ID: u.ID, Name: u.Name, Email: u.Email, EmailVerified: u.EmailVerified,
		Image: u.Image, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

type baSession struct {
	ID        string      `json:"id"`
	Token     string      `json:"token"`
	UserID    string      `json:"userId"`
	ExpiresAt models.Time `json:"expiresAt"`
	CreatedAt models.Time `json:"createdAt"`
	UpdatedAt models.Time `json:"updatedAt"`
	IPAddress *string     `json:"ipAddress"`
	UserAgent *string     `json:"userAgent"`
}

var baOriginMessages = map[string]string{
	"INVALID_ORIGIN":                      "Invalid origin",
	"MISSING_OR_NULL_ORIGIN":              "Missing or null Origin",
	"CROSS_SITE_NAVIGATION_LOGIN_BLOCKED": "Cross-site navigation login blocked. This request appears to be a CSRF attack.",
}

func baOriginError(c *fiber.Ctx, code string) error {
	return baError(c, fiber.StatusForbidden, code, baOriginMessages[code])
}

func baError(c *fiber.Ctx, status int, code, message string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(fiber.Map{"message": message, "code": code})
}

// baBody reads a JSON or form body; Better Auth refuses anything else.
// When ok is false the error response has been written and the handler
// returns err as it is.
func baBody(c *fiber.Ctx) (f fields, ok bool, err error) {
	switch mediaType(c) {
	case fiber.MIMEApplicationJSON:
		f, err = parseJSONObject(c.Body())
	case fiber.MIMEApplicationForm:
		f, err = formFields(c.Body())
	default:
		return nil, false, baError(c, fiber.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
			"Content-Type must be application/json or application/x-www-form-urlencoded")
	}
	if err != nil {
		return nil, false, baError(c, fiber.StatusBadRequest, auth.CodeValidationError, "Invalid request body")
	}
	return f, true, nil
}

// baValidation answers the first field error the way Better Auth does.
func baValidation(c *fiber.Ctx, err error) (error, bool) {
	var ve *auth.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 {
		return nil, false
	}
	f := ve.Fields[0]
	msg := map[string]string{
		auth.CodePasswordShort: "Password too short",
		auth.CodePasswordLong:  "Password too long",
		auth.CodeInvalidEmail:  "Invalid email",
	}[f.Code]
	if msg == "" {
		msg = f.Field + " " + f.Message
	}
	return baError(c, fiber.StatusBadRequest, f.Code, msg), true
}

func baFieldErrors(c *fiber.Ctx, errs []FieldError) error {
	return baError(c, fiber.StatusBadRequest, auth.CodeValidationError, "["+errs[0].Field+"] "+errs[0].Message)
}

func (a *Authn) baSignUp(c *fiber.Ctx) error {
	if code := a.signInProblem(c); code != "" {
		return baOriginError(c, code)
	}
	if !a.svc.SignupEnabled() {
		return baError(c, fiber.StatusForbidden, "EMAIL_PASSWORD_SIGN_UP_DISABLED", "Email and password sign up is not enabled")
	}
	f, ok, err := baBody(c)
	if !ok {
		return err
	}
	name, email, password, errs := credentials(f, true)
	image, _ := f.str("image", &errs)
	remember := f.boolean("rememberMe", true, &errs)
	if len(errs) > 0 {
		return baFieldErrors(c, errs)
	}
	in := auth.SignUpInput{Name: name, Email: email, Password: password, RememberMe: remember, Client: a.clientInfo(c)}
	if image != "" {
		in.Image = &image
	}
	user, sess, err := a.svc.SignUp(c.UserContext(), in)
	if resp, ok := baValidation(c, err); ok {
		return resp
	}
	switch {
	case errors.Is(err, auth.ErrEmailTaken):
		return baError(c, fiber.StatusUnprocessableEntity, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.")
	case err != nil:
		return err
	}
	a.setSessionCookie(c, sess, remember)
	return c.JSON(fiber.Map{"token": sess.Token, "user": newBAUser(user)})
}

func (a *Authn) baSignIn(c *fiber.Ctx) error {
	if code := a.signInProblem(c); code != "" {
		return baOriginError(c, code)
	}
	f, ok, err := baBody(c)
	if !ok {
		return err
	}
	_, email, password, errs := credentials(f, false)
	callbackURL, _ := f.str("callbackURL", &errs)
	remember := f.boolean("rememberMe", true, &errs)
	if len(errs) > 0 {
		return baFieldErrors(c, errs)
	}
	user, sess, err := a.svc.SignIn(c.UserContext(), email, password, a.clientInfo(c), remember)
	var ve *auth.ValidationError
	switch {
	case errors.As(err, &ve):
		return baError(c, fiber.StatusBadRequest, auth.CodeInvalidEmail, "Invalid email")
	case errors.Is(err, auth.ErrInvalidCredentials):
		return baError(c, fiber.StatusUnauthorized, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password")
	case err != nil:
		return err
	}
	a.setSessionCookie(c, sess, remember)
	body := fiber.Map{"redirect": false, "token": sess.Token, "user": newBAUser(user)}
	if callbackURL != "" && a.safeRedirect(c, callbackURL) {
		body["redirect"], body["url"] = true, callbackURL
		c.Set(fiber.HeaderLocation, callbackURL)
	}
	return c.JSON(body)
}

// safeRedirect allows a callback only to a relative path or a trusted
// origin, so sign-in cannot be used as an open redirect.
func (a *Authn) safeRedirect(c *fiber.Ctx, target string) bool {
	// Browsers drop tabs and newlines anywhere in a URL, so "/\t/evil.example"
	// would pass the checks below and then lead to //evil.example.
	if strings.ContainsFunc(target, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return false
	}
	if strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "//") && !strings.HasPrefix(target, "/\\") {
		return true
	}
	o := originOf(target)
	return o != "" && a.isTrustedOrigin(c, o)
}

func (a *Authn) baSignOut(c *fiber.Ctx) error {
	if sess := CurrentSession(c); sess != nil {
		if err := a.svc.SignOut(c.UserContext(), sess.Token); err != nil {
			return err
		}
		a.sessionEnded(sess.ID)
	}
	a.expireCookies(c)
	return c.JSON(fiber.Map{"success": true})
}

func (a *Authn) baGetSession(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	user, sess := CurrentUser(c), CurrentSession(c)
	if user == nil {
		a.expireStaleCookie(c)
		return c.Type("json").SendString("null")
	}
	return c.JSON(fiber.Map{
		"session": baSession{ID: sess.ID, Token: sess.Token, UserID: sess.UserID, ExpiresAt: sess.ExpiresAt,
			CreatedAt: sess.CreatedAt, UpdatedAt: sess.UpdatedAt, IPAddress: sess.IPAddress, UserAgent: sess.UserAgent},
		"user": newBAUser(user),
	})
}
