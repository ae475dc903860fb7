package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/todo-app/todo/models"
)

var (
	// ErrInvalidCredentials is the one answer to a wrong email or password.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrSignupDisabled is returned when auth.signup_enabled is false.
	ErrSignupDisabled = errors.New("sign-up is disabled")
	// ErrEmailTaken is returned when the email already has an account.
	ErrEmailTaken = models.ErrEmailTaken
	// ErrNoSession means the token matches no live session.
	ErrNoSession = errors.New("no valid session")
	// ErrUserNotFound is returned by the admin operations for an unknown email.
	ErrUserNotFound = errors.New("no user with that email")
)

// dontRememberTTL is how long a session lives when the user unticked
// "remember me" (Better Auth's rule): it is not extended, and its cookie
// lasts only as long as the browser session.
const dontRememberTTL = 24 * time.Hour

// Options configures the Service.
type Options struct {
	Secret        string
	SessionTTL    time.Duration
	UpdateAge     time.Duration
	SignupEnabled bool
	Hasher        *Hasher
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service implements accounts and sessions on top of the store.
type Service struct {
	store *models.Store
	opts  Options
	cache *sessionCache
	// cacheOn is set while WatchSessionChanges keeps the cache current;
	// without it every lookup reads the database.
	cacheOn atomic.Bool
}

// NewService builds the service.
func NewService(store *models.Store, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, opts: opts, cache: newSessionCache(SessionCacheTTL, sessionCacheMax)}
}

// Secret is the key that signs session cookies.
func (s *Service) Secret() string { return s.opts.Secret }

// SessionTTL is the lifetime of a remembered session.
func (s *Service) SessionTTL() time.Duration { return s.opts.SessionTTL }

// SignupEnabled reports whether open sign-up is allowed.
func (s *Service) SignupEnabled() bool { return s.opts.SignupEnabled }

func (s *Service) now() models.Time { return models.NewTime(s.opts.Now()) }

// Client describes where a sign-in came from, recorded on the session.
type Client struct {
	IP        string
	UserAgent string
}

// SignUpInput is a new account's details.
type SignUpInput struct {
	Name     string
	Email    string
	Password string
	Image    *string
	// RememberMe false makes a one-day session that is never extended.
	RememberMe bool
	Client     Client
}

// SignUp creates a user with a password and signs them in.
func (s *Service) SignUp(ctx context.Context, in SignUpInput) (*models.User, *models.Session, error) {
	if !s.opts.SignupEnabled {
		return nil, nil, ErrSignupDisabled
	}
	user, err := s.createUser(ctx, in.Name, in.Email, in.Password, in.Image)
	if err != nil {
		return nil, nil, err
	}
	sess, err := s.startSession(ctx, user.ID, in.Client, in.RememberMe)
	if err != nil {
		return nil, nil, err
	}
	return user, sess, nil
}

// CreateUser makes an account whatever auth.signup_enabled says; it is the
// administrator's way in (todo create-user).
func (s *Service) CreateUser(ctx context.Context, name, email, password string) (*models.User, error) {
	return s.createUser(ctx, name, email, password, nil)
}

func (s *Service) createUser(ctx context.Context, name, email, password string, image *string) (*models.User, error) {
	v := &ValidationError{}
	collect := func(err error) {
		var ve *ValidationError
		if errors.As(err, &ve) {
			v.Fields = append(v.Fields, ve.Fields...)
		}
	}
	collect(CheckName(name))
	normalized, err := NormalizeEmail(email)
	collect(err)
	collect(CheckPassword(password))
	if err := v.orNil(); err != nil {
		return nil, err
	}
	hash, err := s.opts.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	user := &models.User{
		ID: RandomID(), Name: name, Email: normalized, Image: image,
		CreatedAt: now, UpdatedAt: now,
	}
	account := models.NewCredentialAccount(RandomID(), user.ID, hash, now)
	if err := s.store.CreateUser(ctx, user, account); err != nil {
		return nil, err
	}
	return user, nil
}

// SignIn checks the password and opens a new session (never reusing one, so
// a session fixed before sign-in is worthless). An unknown email costs the
// same hashing time as a wrong password and gets the same error.
func (s *Service) SignIn(ctx context.Context, email, password string, client Client, rememberMe bool) (*models.User, *models.Session, error) {
	normalized, err := NormalizeEmail(email)
	if err != nil {
		return nil, nil, err
	}
	user, hash, err := s.store.UserByEmail(ctx, normalized)
	if errors.Is(err, models.ErrNotFound) || (err == nil && hash == "") {
		if err := s.opts.Hasher.VerifyDummy(ctx, password); errors.Is(err, ErrBusy) {
			return nil, nil, ErrBusy
		}
		return nil, nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, nil, err
	}
	ok, err := s.opts.Hasher.Verify(ctx, hash, password)
	if errors.Is(err, ErrBusy) {
		return nil, nil, ErrBusy
	}
	if err != nil && ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if err != nil || !ok {
		return nil, nil, ErrInvalidCredentials
	}
	sess, err := s.startSession(ctx, user.ID, client, rememberMe)
	if err != nil {
		return nil, nil, err
	}
	return user, sess, nil
}

func (s *Service) startSession(ctx context.Context, userID string, client Client, rememberMe bool) (*models.Session, error) {
	sess := s.newSession(userID, client, rememberMe)
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	return sess, nil
}

func (s *Service) newSession(userID string, client Client, rememberMe bool) *models.Session {
	now := s.now()
	ttl := s.opts.SessionTTL
	if !rememberMe {
		ttl = dontRememberTTL
	}
	return &models.Session{
		ID:        RandomID(),
		Token:     RandomID(),
		ExpiresAt: models.NewTime(now.Add(ttl)),
		CreatedAt: now,
		UpdatedAt: now,
		IPAddress: optional(client.IP),
		UserAgent: optional(client.UserAgent),
		UserID:    userID,
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Authenticate resolves a raw session token. An expired session is deleted
// and reported as ErrNoSession. A live one is extended by Better Auth's
// sliding rule (once expiresAt - ttl + updateAge has passed) unless the user
// chose not to be remembered; refreshed tells the caller to re-send the
// cookie with the new lifetime.
func (s *Service) Authenticate(ctx context.Context, token string, dontRemember bool) (sess *models.Session, user *models.User, refreshed bool, err error) {
	sess, user, err = s.lookupSession(ctx, token)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil, false, ErrNoSession
	}
	if err != nil {
		return nil, nil, false, err
	}
	now := s.now()
	if !sess.ExpiresAt.After(now.Time) {
		if err := s.store.DeleteSessionByToken(ctx, token); err != nil {
			return nil, nil, false, err
		}
		s.cache.forget(token)
		return nil, nil, false, ErrNoSession
	}
	ttl := s.opts.SessionTTL
	due := sess.ExpiresAt.Add(-ttl).Add(s.opts.UpdateAge)
	if dontRemember || due.After(now.Time) {
		return sess, user, false, nil
	}
	expires := models.NewTime(now.Add(ttl))
	if err := s.store.ExtendSession(ctx, sess.ID, expires, now); err != nil {
		return nil, nil, false, err
	}
	// The next request reads the new expiry from the database.
	s.cache.forget(token)
	sess.ExpiresAt, sess.UpdatedAt = expires, now
	return sess, user, true, nil
}

// lookupSession reads a session and its user from the cache when it is on,
// else from the database (one indexed query), filling the cache.
func (s *Service) lookupSession(ctx context.Context, token string) (*models.Session, *models.User, error) {
	if !s.cacheOn.Load() {
		return s.store.SessionByToken(ctx, token)
	}
	if sess, user, ok := s.cache.get(token, time.Now()); ok {
		return sess, user, nil
	}
	gen := s.cache.generation()
	sess, user, err := s.store.SessionByToken(ctx, token)
	if err == nil {
		s.cache.put(gen, sess, user, time.Now())
	}
	return sess, user, err
}

// Refresh rotates a session: a new token with a full lifetime replaces the
// old one, which stops working at once.
func (s *Service) Refresh(ctx context.Context, old *models.Session, client Client) (*models.Session, error) {
	next := s.newSession(old.UserID, client, true)
	err := s.store.ReplaceSession(ctx, old.ID, next)
	s.cache.forget(old.Token)
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return nil, ErrNoSession
		}
		return nil, err
	}
	return next, nil
}

// SignOut deletes the session with the token; an unknown token is not an error.
func (s *Service) SignOut(ctx context.Context, token string) error {
	err := s.store.DeleteSessionByToken(ctx, token)
	s.cache.forget(token)
	return err
}

// ListUsers returns every account, oldest first.
func (s *Service) ListUsers(ctx context.Context) ([]models.User, error) {
	return s.store.ListUsers(ctx)
}

// SetPassword gives the user with email a new password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, email, password string) error {
	user, err := s.userByEmail(ctx, email)
	if err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := s.opts.Hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	err = s.store.SetPassword(ctx, user.ID, hash, RandomID())
	s.cache.forgetUser(user.ID)
	return err
}

// DeleteUser removes the user with email together with their sessions,
// accounts and tasks.
func (s *Service) DeleteUser(ctx context.Context, email string) (*models.User, error) {
	user, err := s.userByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteUser(ctx, user.ID)
	s.cache.forgetUser(user.ID)
	if err != nil {
		return nil, err
	}
	return user, nil
}

func (s *Service) userByEmail(ctx context.Context, email string) (*models.User, error) {
	normalized, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	user, _, err := s.store.UserByEmail(ctx, normalized)
	if errors.Is(err, models.ErrNotFound) {
		return nil, ErrUserNotFound
	}
	return user, err
}

// CleanExpiredSessions deletes expired sessions every interval until ctx
// ends. Lookups already refuse expired sessions; this only keeps the table
// from growing.
func (s *Service) CleanExpiredSessions(ctx context.Context, interval time.Duration, log *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		n, err := s.store.DeleteExpiredSessions(ctx, s.now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("delete expired sessions", "error", err)
		case n > 0:
			log.Info("deleted expired sessions", "count", n)
		}
		if _, err := s.store.PruneAuthChanges(ctx, models.NewTime(time.Now().Add(-authChangeRetention))); err != nil && ctx.Err() == nil {
			log.Warn("prune auth change log", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
