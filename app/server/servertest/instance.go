package servertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/migrator"
	"github.com/todo-app/todo/app/realtime"
	"github.com/todo-app/todo/app/server"
	"github.com/todo-app/todo/models"
)

// InstanceOptions configures StartInstance.
type InstanceOptions struct {
	// Mutate adjusts the configuration.
	Mutate func(*config.Config)
	// Realtime adjusts the live-update hub's options (short heartbeats).
	Realtime func(*realtime.Options)
	// Logger receives the instance's logs; nil discards them.
	Logger *slog.Logger
}

// Instance is a server started by StartInstance, with its realtime hub.
type Instance struct {
	*Server
	Hub *realtime.Hub

	stopOnce   sync.Once
	cancel     context.CancelFunc
	done       chan error
	stopUpkeep func()
}

// NewDatabaseURL creates an empty database of the engine, removed when the
// test ends, for one or more instances to share.
func NewDatabaseURL(t testing.TB, d database.Dialect) string {
	t.Helper()
	return dbtest.NewURL(t, d)
}

// StartInstance runs the application on the existing database at dbURL,
// migrating it if needed, wired as `todo serve` wires it: the hub is made by
// server.NewRealtime and closes its sockets before the HTTP server stops.
// Instances started on one PostgreSQL URL exchange live events.
func StartInstance(t testing.TB, dbURL string, o InstanceOptions) *Instance {
	t.Helper()
	cfg := Config(t, dbURL)
	if o.Mutate != nil {
		o.Mutate(cfg)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db, err := database.Open(database.Options{URL: cfg.Database.URL, MaxOpenConns: 8, MaxIdleConns: 8, QueryTimeout: cfg.Database.QueryTimeout})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrator.New(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock := &Clock{}
	svc := server.NewAuthService(cfg, db, clock.Now)
	hub := server.NewRealtime(db, log, o.Realtime)
	hub.Start(context.Background())
	app, err := server.New(server.Deps{Config: cfg, DB: db, Auth: svc, Logger: log, Version: "test", Realtime: hub})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// As in todo serve: sessions are cached, and the change log keeps the
	// cache honest. The hourly sweep of expired sessions is left out: no
	// test runs for an hour.
	stopUpkeep := server.StartSessionUpkeep(ctx, svc, hub, log, 0)
	runCtx, stopRun := hub.BeforeShutdown(ctx, 3*time.Second)
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		defer stopRun()
		done <- server.Run(runCtx, app, "127.0.0.1:0", 5*time.Second, log, func(a net.Addr) { addrc <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		stopUpkeep()
		t.Fatalf("server stopped: %v", err)
	}
	inst := &Instance{
		Server:     &Server{URL: "http://" + addr.String(), Config: cfg, DB: db, Store: models.NewStore(db), Auth: svc, Clock: clock},
		Hub:        hub,
		cancel:     cancel,
		done:       done,
		stopUpkeep: stopUpkeep,
	}
	t.Cleanup(func() {
		inst.Stop()
		_ = db.Close()
	})
	return inst
}

// Stop shuts the instance down as `todo serve` does on SIGTERM: sockets are
// closed (1001) first, then the HTTP server. It may be called more than once.
func (i *Instance) Stop() {
	i.stopOnce.Do(func() {
		i.cancel()
		<-i.done
		i.stopUpkeep()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		i.Hub.Shutdown(ctx)
	})
}
