package routes

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/models"
)

// userJSON is the native API's user object.
type userJSON struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Email         string      `json:"email"`
	EmailVerified bool        `json:"email_verified"`
	Image         *string     `json:"image"`
	CreatedAt     models.Time `json:"created_at"`
	UpdatedAt     models.Time `json:"updated_at"`
}

func newUserJSON(u *models.User) *userJSON {
	return &userJSON{ID: u.ID, Name: u.Name, Email: u.Email, EmailVerified: u.EmailVerified,
		Image: u.Image, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

type signedInJSON struct {
	User    *userJSON `json:"user"`
	Session struct {
		ExpiresAt models.Time `json:"expires_at"`
	} `json:"session"`
	Token string `json:"token"`
}

func newSignedIn(u *models.User, s *models.Session) signedInJSON {
	out := signedInJSON{User: newUserJSON(u), Token: s.Token}
	out.Session.ExpiresAt = s.ExpiresAt
	return out
}

// RegisterAuth mounts the native endpoints and the Better Auth-compatible
// ones under /api/auth.
func RegisterAuth(api fiber.Router, a *Authn) {
	g := api.Group("/auth")
	g.Post("/signup", a.signUp)
	g.Post("/login", a.login)
	g.Post("/logout", a.logout)
	g.Get("/session", a.session)
	g.Post("/refresh", a.refresh)

	g.Post("/sign-up/email", a.baSignUp)
	g.Post("/sign-in/email", a.baSignIn)
	g.Post("/sign-out", a.baSignOut)
	g.Get("/get-session", a.baGetSession)
}

var (
	errSignupDisabled     = NewProblem(fiber.StatusForbidden, "Sign-up is disabled on this server.")
	errEmailTaken         = NewProblem(fiber.StatusConflict, "An account with this email already exists.")
	errInvalidCredentials = NewProblem(fiber.StatusUnauthorized, "Invalid email or password.")
	errCrossSiteSignIn    = NewProblem(fiber.StatusForbidden, "Cross-site request refused: Origin is not trusted.")
)

// credentials reads name (when wanted), email and password as strings,
// reporting every missing or mistyped field at once.
func credentials(f fields, withName bool) (name, email, password string, errs []FieldError) {
	require := func(field string) string {
		v, ok := f.str(field, &errs)
		if !ok && !hasField(errs, field) {
			errs = append(errs, FieldError{Field: field, Message: "is required"})
		}
		return v
	}
	if withName {
		name = require("name")
	}
	email = require("email")
	password = require("password")
	return name, email, password, errs
}

func hasField(errs []FieldError, field string) bool {
	for _, e := range errs {
		if e.Field == field {
			return true
		}
	}
	return false
}

// validationProblem turns the service's field errors into a 422.
func validationProblem(err error) (*Problem, bool) {
	var ve *auth.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	out := make([]FieldError, len(ve.Fields))
	for i, f := range ve.Fields {
		out[i] = FieldError{Field: f.Field, Message: f.Message}
	}
	return ValidationProblem(out...), true
}

func (a *Authn) signUp(c *fiber.Ctx) error {
	if a.signInProblem(c) != "" {
		return errCrossSiteSignIn
	}
	if !a.svc.SignupEnabled() {
		return errSignupDisabled
	}
	f, err := decodeJSONObject(c)
	if err != nil {
		return err
	}
	name, email, password, errs := credentials(f, true)
	if len(errs) > 0 {
		return ValidationProblem(errs...)
	}
	user, sess, err := a.svc.SignUp(c.UserContext(), auth.SignUpInput{
		Name: name, Email: email, Password: password, RememberMe: true, Client: a.clientInfo(c)})
	if p, ok := validationProblem(err); ok {
		return p
	}
	switch {
	case errors.Is(err, auth.ErrEmailTaken):
		return errEmailTaken
	case errors.Is(err, auth.ErrSignupDisabled):
		return errSignupDisabled
	case err != nil:
		return err
	}
	a.setSessionCookie(c, sess, true)
	return c.Status(fiber.StatusCreated).JSON(newSignedIn(user, sess))
}

func (a *Authn) login(c *fiber.Ctx) error {
	if a.signInProblem(c) != "" {
		return errCrossSiteSignIn
	}
	f, err := decodeJSONObject(c)
	if err != nil {
		return err
	}
	_, email, password, errs := credentials(f, false)
	if len(errs) > 0 {
		return ValidationProblem(errs...)
	}
	user, sess, err := a.svc.SignIn(c.UserContext(), email, password, a.clientInfo(c), true)
	if p, ok := validationProblem(err); ok {
		return p
	}
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return errInvalidCredentials
	}
	if err != nil {
		return err
	}
	a.setSessionCookie(c, sess, true)
	return c.JSON(newSignedIn(user, sess))
}

// logout ends the request's session, if it has one, and always clears the
// cookies, so it can be repeated safely.
func (a *Authn) logout(c *fiber.Ctx) error {
	if sess := CurrentSession(c); sess != nil {
		if err := a.svc.SignOut(c.UserContext(), sess.Token); err != nil {
			return err
		}
		a.sessionEnded(sess.ID)
	}
	a.expireCookies(c)
	return c.JSON(fiber.Map{"message": "Logged out successfully"})
}

func (a *Authn) session(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	user, sess := CurrentUser(c), CurrentSession(c)
	if user == nil {
		a.expireStaleCookie(c)
		return c.JSON(fiber.Map{"user": nil, "session": nil})
	}
	return c.JSON(fiber.Map{
		"user":    newUserJSON(user),
		"session": fiber.Map{"expires_at": sess.ExpiresAt, "created_at": sess.CreatedAt},
	})
}

// expireStaleCookie clears a session cookie that no longer matches a live
// session, as Better Auth does, so the browser stops sending it.
func (a *Authn) expireStaleCookie(c *fiber.Ctx) {
	if c.Cookies(auth.SessionCookieName(a.secure)) != "" {
		a.expireCookies(c)
	}
}

func (a *Authn) refresh(c *fiber.Ctx) error {
	user, sess := CurrentUser(c), CurrentSession(c)
	if user == nil {
		return ErrUnauthenticated
	}
	next, err := a.svc.Refresh(c.UserContext(), sess, a.clientInfo(c))
	if errors.Is(err, auth.ErrNoSession) {
		return ErrUnauthenticated
	}
	if err != nil {
		return err
	}
	a.sessionEnded(sess.ID)
	a.setSessionCookie(c, next, true)
	return c.JSON(newSignedIn(user, next))
}
