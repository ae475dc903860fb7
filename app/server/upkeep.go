package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/app/realtime"
)

// StartSessionUpkeep starts the session work that runs beside the HTTP
// server: the watcher that keeps the session cache true to the change log
// and closes the sockets of sessions ended elsewhere, and, when sweepEvery
// is positive, the sweep of expired sessions. The returned stop ends both
// and waits for them. Call it before the database closes: a poll still
// running then could open a SQLite connection after the close, which
// creates the database file again if it has been moved away.
func StartSessionUpkeep(ctx context.Context, svc *auth.Service, hub *realtime.Hub, log *slog.Logger, sweepEvery time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	running.Go(func() { svc.WatchSessionChanges(ctx, auth.DefaultSessionPoll, hub.CloseSessionLocally, log) })
	if sweepEvery > 0 {
		running.Go(func() { svc.CleanExpiredSessions(ctx, sweepEvery, log) })
	}
	return func() {
		cancel()
		running.Wait()
	}
}
