// Package server assembles the HTTP application: middleware, routes and the
// error handler, and runs it until the process is asked to stop.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/app/clientip"
	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/ratelimit"
	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/app/realtime/pgbus"
	"github.com/todo-app/todo/models"
	"github.com/todo-app/todo/routes"
)

// BodyLimit is the largest request body accepted (SPEC §8); larger ones get 413.
const BodyLimit = 1 << 20

// healthTimeout bounds the database ping behind /health so a probe never
// waits on a hung database longer than a load balancer would.
const healthTimeout = 2 * time.Second

// Deps is what the HTTP application needs from the rest of the program.
type Deps struct {
	Config  *config.Config
	DB      *database.DB
	Auth    *auth.Service
	Logger  *slog.Logger
	Version string
	// Realtime is the live-update hub, started by the caller, who also shuts
	// it down before the HTTP server (see realtime.Hub.BeforeShutdown). When
	// nil, New builds and starts one that closes when the app shuts down.
	Realtime *realtime.Hub
}

// NewRealtime builds the live-update hub for db: events cross instances
// through LISTEN/NOTIFY on PostgreSQL and stay in process on SQLite; stats
// and tasks are loaded from the store. tune, when set, adjusts the options
// (tests shorten heartbeats). Call Start on the result before serving.
func NewRealtime(db *database.DB, log *slog.Logger, tune func(*realtime.Options)) *realtime.Hub {
	store := models.NewStore(db)
	o := realtime.Options{
		Stats: func(ctx context.Context, userID string) (any, error) {
			return store.TaskStats(ctx, userID, models.Now())
		},
		Task:   store.TaskByID,
		Logger: log,
	}
	if db.Dialect == database.Postgres {
		o.Bus = pgbus.New(db.Write, pgbus.Options{Logger: log})
	}
	if tune != nil {
		tune(&o)
	}
	return realtime.New(o)
}

// NewAuthService builds the account and session service the configuration
// describes; cfg.Auth.Secret must already be resolved. now is the clock
// (time.Now when nil; tests move it to expire sessions).
func NewAuthService(cfg *config.Config, db *database.DB, now func() time.Time) *auth.Service {
	hasher := auth.NewHasher(auth.HasherOptions{BcryptCost: cfg.Auth.BcryptCost, Algorithm: cfg.Auth.PasswordHash})
	return auth.NewService(models.NewStore(db), auth.Options{
		Secret:        cfg.Auth.Secret,
		SessionTTL:    cfg.Auth.SessionTTL,
		UpdateAge:     cfg.Auth.UpdateAge,
		SignupEnabled: cfg.Auth.SignupEnabled,
		Hasher:        hasher,
		Now:           now,
	})
}

// New builds the Fiber application with every middleware and route.
func New(d Deps) (*fiber.App, error) {
	cfg := d.Config
	ips, err := clientip.New(cfg.Server.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	hub, ownHub := d.Realtime, d.Realtime == nil
	if ownHub {
		hub = NewRealtime(d.DB, d.Logger, nil)
		hub.Start(context.Background())
	}
	authn := routes.NewAuthn(routes.AuthnOptions{
		Service:        d.Auth,
		PublicURL:      cfg.Server.PublicURL,
		TrustedOrigins: cfg.Server.TrustedOrigins,
		SecureCookies:  cfg.CookieSecure(),
		ClientIPs:      ips,
		OnSessionEnd:   hub.CloseSession,
	})
	app := fiber.New(fiber.Config{
		AppName:                 "todo",
		DisableStartupMessage:   true,
		BodyLimit:               BodyLimit,
		ReadBufferSize:          16 << 10,
		ReadTimeout:             cfg.Server.ReadTimeout,
		WriteTimeout:            cfg.Server.WriteTimeout,
		IdleTimeout:             cfg.Server.IdleTimeout,
		ErrorHandler:            routes.ErrorHandler(d.Logger, database.IsUnavailable),
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.Server.TrustedProxies,
		// Without this, X-Forwarded-* from a trusted proxy is ignored for the
		// scheme; with it and no trusted proxies, nothing is trusted.
		ProxyHeader: "",
	})
	// A WebSocket handler returns once its connection is upgraded and the
	// hub serves it, so fasthttp must leave hijacked connections open (their
	// owners close them) and its read buffer and request context are not
	// held for the life of each socket; see realtime.Hub.UpgradeWebSocket.
	app.Server().KeepHijackedConns = true

	if ownHub {
		app.Hooks().OnShutdown(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hub.Shutdown(ctx)
			return nil
		})
	}

	// The logger wraps recovery so a request that panicked is still logged
	// with the 500 it received.
	app.Use(requestID())
	app.Use(requestLogger(d.Logger))
	app.Use(recoverPanics(d.Logger))
	app.Use(databaseDeadline(cfg.Database.QueryTimeout))
	app.Use(securityHeaders(cfg.CookieSecure()))
	if len(cfg.Server.TrustedOrigins) > 0 {
		app.Use(corsForTrustedOrigins(cfg.Server.TrustedOrigins))
	}

	app.Get("/health", routes.Health(d.DB, d.Version, healthTimeout))

	api := app.Group("/api", authn.Load)
	// After authn.Load (the general budget is per signed-in user) and before
	// any route, so every /api response, 404s included, is counted.
	ratelimit.Mount(api, cfg.RateLimit, ips)
	mountShedding(api, cfg.Server, d.Logger)
	routes.RegisterAuth(api, authn)
	store := models.NewStore(d.DB)
	routes.RegisterTasks(api, store, hub)
	routes.RegisterDashboard(api, store)
	// GET /api/ws and /api/events; hub is also the routes.TaskEvents the task
	// handlers publish to.
	routes.RegisterRealtime(api, authn, hub, d.Logger)
	routes.RegisterOpenAPI(api, d.Version)

	// The embedded web app for every other path (index.html as the SPA
	// fallback); unknown /api paths still answer with a JSON 404.
	app.Use(routes.WebApp())
	return app, nil
}

// Run serves app on addr until ctx is cancelled, then stops accepting
// connections, lets in-flight requests finish within shutdownTimeout, and
// returns. ready, when not nil, receives the bound address once listening.
func Run(ctx context.Context, app *fiber.App, addr string, shutdownTimeout time.Duration, log *slog.Logger, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr())
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- app.Listener(ln) }()

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", shutdownTimeout.String())
	if err := app.ShutdownWithTimeout(shutdownTimeout); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return <-serveErr
}

// trimOrigin normalises a configured origin for comparison with request headers.
func trimOrigin(o string) string { return strings.TrimRight(o, "/") }
