package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// Session is a row of Better Auth's session table. Token is the raw token;
// cookies carry it signed.
type Session struct {
	bun.BaseModel `bun:"table:session"`

	ID        string  `bun:"id,pk"`
	ExpiresAt Time    `bun:"expiresAt"`
	Token     string  `bun:"token"`
	CreatedAt Time    `bun:"createdAt"`
	UpdatedAt Time    `bun:"updatedAt"`
	IPAddress *string `bun:"ipAddress"`
	UserAgent *string `bun:"userAgent"`
	UserID    string  `bun:"userId"`
}

// sessionWithUser is one row of the session lookup's join.
type sessionWithUser struct {
	Session `bun:",extend"`
	User    *User `bun:"rel:belongs-to,join:userId=id"`
}

// CreateSession inserts a new session.
func (s *Store) CreateSession(ctx context.Context, sess *Session) error {
	if _, err := s.db.Write.NewInsert().Model(sess).Exec(ctx); err != nil {
		return fmt.Errorf("create session for user %s: %w", sess.UserID, err)
	}
	return nil
}

// SessionByToken loads a session and its user in one indexed query (the
// unique index on token). Expiry is the caller's decision.
func (s *Store) SessionByToken(ctx context.Context, token string) (*Session, *User, error) {
	row := new(sessionWithUser)
	err := s.db.Read.NewSelect().Model(row).Relation("User").
		Where("?TableAlias.token = ?", token).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load session: %w", err)
	}
	if row.User == nil {
		return nil, nil, ErrNotFound
	}
	return &row.Session, row.User, nil
}

// ExtendSession moves a session's expiry (the sliding refresh).
func (s *Store) ExtendSession(ctx context.Context, id string, expiresAt, now Time) error {
	_, err := s.db.Write.NewUpdate().Model((*Session)(nil)).
		Set(`"expiresAt" = ?`, expiresAt).Set(`"updatedAt" = ?`, now).
		Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("extend session %s: %w", id, err)
	}
	return nil
}

// ReplaceSession deletes old and inserts next in one transaction, so a
// rotated token stops working at the moment its successor starts.
func (s *Store) ReplaceSession(ctx context.Context, oldID string, next *Session) error {
	return s.db.Write.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*Session)(nil)).Where("id = ?", oldID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete session %s: %w", oldID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Signed out or rotated by a concurrent request: no successor.
			return ErrNotFound
		}
		if _, err := tx.NewInsert().Model(next).Exec(ctx); err != nil {
			return fmt.Errorf("create session for user %s: %w", next.UserID, err)
		}
		return nil
	})
}

// DeleteSessionByToken removes the session with the token, if any.
func (s *Store) DeleteSessionByToken(ctx context.Context, token string) error {
	if _, err := s.db.Write.NewDelete().Model((*Session)(nil)).Where("token = ?", token).Exec(ctx); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes every session that expired before now and
// returns how many there were.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now Time) (int64, error) {
	res, err := s.db.Write.NewDelete().Model((*Session)(nil)).Where(`"expiresAt" <= ?`, now).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
