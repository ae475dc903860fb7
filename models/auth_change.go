package models

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// AuthChange is a row of todo_auth_change, which database triggers append
// whenever a session ends or a user changes, whoever makes the change. The
// servers' session caches follow it (see auth.Service.WatchSessionChanges).
type AuthChange struct {
	bun.BaseModel `bun:"table:todo_auth_change"`

	Seq int64 `bun:"seq,pk"`
	// SessionID and Token are set when a session ended or changed hands.
	SessionID *string `bun:"session_id"`
	Token     *string `bun:"token"`
	// UserID is set for a session's owner and for a changed or deleted user.
	UserID *string `bun:"user_id"`
	At     Time    `bun:"at"`
}

// AuthChangesSince returns the changes logged at or after since, oldest
// first. Callers re-read an overlapping window and skip what they have seen:
// on PostgreSQL a change can commit after one with a higher seq.
func (s *Store) AuthChangesSince(ctx context.Context, since Time) ([]AuthChange, error) {
	var rows []AuthChange
	err := s.db.Read.NewSelect().Model(&rows).Where("at >= ?", since).Order("seq").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load auth changes since %s: %w", since, err)
	}
	return rows, nil
}

// PruneAuthChanges deletes the changes logged before before.
func (s *Store) PruneAuthChanges(ctx context.Context, before Time) (int64, error) {
	res, err := s.db.Write.NewDelete().Model((*AuthChange)(nil)).Where("at < ?", before).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune auth changes: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
