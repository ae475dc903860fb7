package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/todo-app/todo/models"
)

const (
	// SessionCacheTTL bounds how long a cached session is trusted without
	// reading it again. Revocations do not wait for it (see
	// WatchSessionChanges); it bounds memory and the staleness of what the
	// change log does not cover, such as another server moving the expiry.
	SessionCacheTTL = 30 * time.Second
	// DefaultSessionPoll is how often the change log is read: the longest a
	// session ended by another process keeps working here.
	DefaultSessionPoll = 200 * time.Millisecond
	sessionCacheMax    = 100_000
	// changeOverlap is how far back each poll re-reads the log. On
	// PostgreSQL a transaction can commit after one with a later sequence
	// number and clock; a revocation's transaction is one short statement,
	// far shorter than this.
	changeOverlap = 5 * time.Second
	// authChangeRetention is how long log rows are kept; any poller that is
	// further behind has dropped its cache anyway.
	authChangeRetention = 10 * time.Minute
)

// WatchSessionChanges turns the session cache on and keeps it true to the
// database until ctx ends. Every interval it reads the change log that the
// database's triggers fill and drops each session and user named there;
// onSessionEnd (when set) hears of every ended session, so live connections
// made with it close wherever the session was ended. When a poll fails the
// cache is dropped and stays off until a poll succeeds again, so a change
// missed while the database was unreachable cannot leave a dead session
// working.
func (s *Service) WatchSessionChanges(ctx context.Context, interval time.Duration, onSessionEnd func(sessionID string), log *slog.Logger) {
	if interval <= 0 {
		interval = DefaultSessionPoll
	}
	w := &changeWatcher{svc: s, onSessionEnd: onSessionEnd, seen: map[int64]time.Time{}}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	defer s.cacheOn.Store(false)
	failing := false
	for {
		err := w.poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				log.Warn("session cache off: cannot read the auth change log", "error", err)
			}
			failing = true
			s.cacheOn.Store(false)
			s.cache.clear()
		case err == nil:
			if failing {
				log.Info("session cache back on")
			}
			failing = false
			s.cacheOn.Store(true)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

type changeWatcher struct {
	svc          *Service
	onSessionEnd func(string)
	since        models.Time
	seen         map[int64]time.Time
	// lastExpire is when the cache was last swept: a sweep walks every
	// entry under the write lock, so it runs once per SessionCacheTTL, not
	// on every poll.
	lastExpire time.Time
}

func (w *changeWatcher) poll(ctx context.Context) error {
	rows, err := w.svc.store.AuthChangesSince(ctx, w.since)
	if err != nil {
		return err
	}
	latest := w.since.Time
	for _, r := range rows {
		if r.At.After(latest) {
			latest = r.At.Time
		}
		if _, ok := w.seen[r.Seq]; ok {
			continue
		}
		w.seen[r.Seq] = r.At.Time
		w.apply(r)
	}
	if cutoff := latest.Add(-changeOverlap); cutoff.After(w.since.Time) {
		w.since = models.NewTime(cutoff)
		for seq, at := range w.seen {
			if at.Before(cutoff) {
				delete(w.seen, seq)
			}
		}
	}
	if now := time.Now(); now.Sub(w.lastExpire) >= SessionCacheTTL {
		w.svc.cache.expire(now)
		w.lastExpire = now
	}
	return nil
}

func (w *changeWatcher) apply(r models.AuthChange) {
	c := w.svc.cache
	if r.Token != nil {
		c.forget(*r.Token)
	}
	if r.UserID != nil && r.Token == nil {
		c.forgetUser(*r.UserID)
	}
	if r.SessionID != nil && w.onSessionEnd != nil {
		w.onSessionEnd(*r.SessionID)
	}
}
