package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/app/buildinfo"
	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/logging"
	"github.com/todo-app/todo/app/migrator"
	"github.com/todo-app/todo/app/server"
)

// serveFlags maps the serve command's flags to configuration keys.
var serveFlags = map[string]string{
	"addr":         "server.addr",
	"database-url": "database.url",
	"debug":        "debug",
	"log-level":    "log.level",
	"log-format":   "log.format",
}

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server",
		Long: `serve runs the HTTP server. It applies pending database migrations first
(unless database.auto_migrate is false) and stops gracefully on SIGINT or SIGTERM:
it closes WebSocket and event-stream connections (1001 Going Away), stops
accepting connections, lets requests in flight finish, then closes the database.`,
		Example: `  todo serve
  todo serve --addr :9000 --database-url sqlite:///var/lib/todo/todo.db
  TODO_DATABASE_URL=postgres://todo@db/todo BETTER_AUTH_SECRET_FILE=/run/secrets/todo todo serve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, serveFlags)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, nil)
		},
	}
	fs := cmd.Flags()
	fs.String("addr", "", "listen address, host:port (server.addr, default :8080)")
	addDatabaseFlag(fs)
	fs.Bool("debug", false, "debug mode: accept weak secrets, verbose logs (debug)")
	fs.String("log-level", "", "debug, info, warn or error (log.level)")
	fs.String("log-format", "", "text or json (log.format)")
	return cmd
}

// serverGCPercent is the garbage collector's target when GOGC is not set.
// A request's garbage is small and short-lived, and at Go's default (100)
// collection took a fifth of the server's CPU under load: at 200 a list of
// 20 tasks went from 7,900 to 9,600 req/s on two cores, while 10,000 idle
// WebSockets grew from 105 to 129 MiB (docs/performance.md).
const serverGCPercent = 200

// The server runs one more Go processor per password-hashing worker than the
// machine has cores. A hash runs for tens of milliseconds; with one
// processor per core it holds a whole processor while it runs, and the
// requests queued behind it wait for Go's 10 ms preemption. With the extra
// processors the kernel shares the cores among all of them in finer slices.
// Under a flood of 100 logins/s on two cores, the p99 of task reads grew
// 2.1x without them and 1.5x with them (docs/performance.md).
var addHashingProcs sync.Once

// sessionCleanupInterval is how often expired sessions are deleted.
const sessionCleanupInterval = time.Hour

// socketCloseGrace bounds how long shutdown waits for WebSocket and event
// stream clients to take their close frame before dropping them.
const socketCloseGrace = 3 * time.Second

// serve runs the server until ctx ends. ready, when set, learns the bound
// address once the server accepts connections (tests listen on port 0).
func serve(ctx context.Context, cfg *config.Config, ready func(net.Addr)) error {
	level := cfg.Log.Level
	if cfg.Debug && level == "info" {
		level = "debug"
	}
	log, logCloser, err := logging.New(logging.Options{
		Level: level, Format: cfg.Log.Format, File: cfg.Log.File,
		MaxSizeMB: cfg.Log.MaxSizeMB, MaxBackups: cfg.Log.MaxBackups, MaxAgeDays: cfg.Log.MaxAgeDays,
	})
	if err != nil {
		return err
	}
	defer logCloser.Close()

	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// Once per process: tests serve many times in one.
		addHashingProcs.Do(func() { runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + auth.DefaultWorkers()) })
	}

	version := buildinfo.Get().Version
	if cfg.File != "" {
		log.Info("configuration loaded", "file", cfg.File, "version", version)
	} else {
		log.Info("no configuration file found; using defaults and the environment", "version", version)
	}
	log.Debug("effective configuration", "config", cfg.Redacted())

	secret, err := config.EnsureSecret(cfg)
	if err != nil {
		return err
	}
	switch {
	case secret.Generated:
		log.Info("generated a new auth secret; keep this file with the database", "path", secret.Path)
	case secret.Weak:
		log.Warn("auth.secret is weak; accepted only because debug is on")
	}

	db, err := database.Open(database.Options{
		URL:             cfg.Database.URL,
		MaxOpenConns:    cfg.Database.MaxOpenConns,
		MaxIdleConns:    cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime,
		QueryTimeout:    cfg.Database.QueryTimeout,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("close database", "error", err)
		}
	}()
	err = db.WaitReady(ctx, cfg.Database.StartupTimeout, func(attempt int, err error) {
		log.Warn("database not reachable yet; retrying", "attempt", attempt, "error", err)
	})
	if err != nil {
		return fmt.Errorf("%s database: %w", db.Dialect, err)
	}
	if db.Path != "" {
		log.Info("database connected", "dialect", string(db.Dialect), "path", db.Path)
	} else {
		log.Info("database connected", "dialect", string(db.Dialect))
	}

	if err := prepareSchema(ctx, cfg, db, log); err != nil {
		return err
	}

	authService := server.NewAuthService(cfg, db, nil)
	hub := server.NewRealtime(db, log, nil)
	hub.Start(ctx)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), socketCloseGrace)
		defer cancel()
		hub.Shutdown(sctx)
	}()
	app, err := server.New(server.Deps{Config: cfg, DB: db, Auth: authService, Logger: log, Version: version, Realtime: hub})
	if err != nil {
		return err
	}
	// WebSockets and event streams run on hijacked connections, which the
	// HTTP server's shutdown neither waits for nor closes: on a signal the
	// hub closes them first (1001), then the server stops.
	runCtx, stopRun := hub.BeforeShutdown(ctx, socketCloseGrace)
	defer stopRun()
	stopUpkeep := server.StartSessionUpkeep(ctx, authService, hub, log, sessionCleanupInterval)
	defer stopUpkeep()

	err = server.Run(runCtx, app, cfg.Server.Addr, cfg.Server.ShutdownTimeout, log, ready)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

// prepareSchema applies pending migrations, or with auto_migrate off refuses
// to serve a database whose schema is behind this binary.
func prepareSchema(ctx context.Context, cfg *config.Config, db *database.DB, log *slog.Logger) error {
	m, err := migrator.New(db)
	if err != nil {
		return err
	}
	if !cfg.Database.AutoMigrate {
		pending, err := m.Pending(ctx)
		if err != nil {
			return err
		}
		if pending > 0 {
			return fmt.Errorf("%d migrations are pending and database.auto_migrate is false; run `todo migrate up`", pending)
		}
		return nil
	}
	applied, err := m.Up(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		log.Info("migrations applied", "count", len(applied), "names", applied)
	}
	return nil
}
