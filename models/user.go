package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// User is a row of Better Auth's user table.
type User struct {
	bun.BaseModel `bun:"table:user"`

	ID            string  `bun:"id,pk"`
	Name          string  `bun:"name"`
	Email         string  `bun:"email"`
	EmailVerified bool    `bun:"emailVerified"`
	Image         *string `bun:"image"`
	CreatedAt     Time    `bun:"createdAt"`
	UpdatedAt     Time    `bun:"updatedAt"`
}

// Account is a row of Better Auth's account table. An email/password user
// has one with ProviderID "credential", AccountID equal to the user id and
// the password hash.
type Account struct {
	bun.BaseModel `bun:"table:account"`

	ID                    string  `bun:"id,pk"`
	AccountID             string  `bun:"accountId"`
	ProviderID            string  `bun:"providerId"`
	UserID                string  `bun:"userId"`
	AccessToken           *string `bun:"accessToken"`
	RefreshToken          *string `bun:"refreshToken"`
	IDToken               *string `bun:"idToken"`
	AccessTokenExpiresAt  *Time   `bun:"accessTokenExpiresAt"`
	RefreshTokenExpiresAt *Time   `bun:"refreshTokenExpiresAt"`
	Scope                 *string `bun:"scope"`
	Password              *string `bun:"password"`
	CreatedAt             Time    `bun:"createdAt"`
	UpdatedAt             Time    `bun:"updatedAt"`
}

// CredentialProvider is Better Auth's provider id for email and password.
const CredentialProvider = "credential"

// CreateUser inserts the user and its credential account in one transaction.
// A duplicate email (emails are stored lower-case) returns ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u *User, account *Account) error {
	err := s.db.Write.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(u).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(account).Exec(ctx)
		return err
	})
	if isUniqueViolation(err) {
		return ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// UserByEmail finds a user by lower-case email, with the credential
// account's password hash (empty when the user has none).
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, string, error) {
	u := new(User)
	err := s.db.Read.NewSelect().Model(u).Where("?TableAlias.email = ?", email).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("load user by email: %w", err)
	}
	var hash sql.NullString
	err = s.db.Read.NewSelect().Model((*Account)(nil)).Column("password").
		Where(`"userId" = ?`, u.ID).Where(`"providerId" = ?`, CredentialProvider).
		Limit(1).Scan(ctx, &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("load credential of user %s: %w", u.ID, err)
	}
	return u, hash.String, nil
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	if err := s.db.Read.NewSelect().Model(&users).Order("createdAt", "id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// SetPassword replaces the user's password hash, creating the credential
// account (with newAccountID) when the user had none, and ends every session
// of the user so a stolen session does not outlive a password reset.
func (s *Store) SetPassword(ctx context.Context, userID, hash, newAccountID string) error {
	now := Now()
	return s.db.Write.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Account)(nil)).
			Set("password = ?", hash).Set(`"updatedAt" = ?`, now).
			Where(`"userId" = ?`, userID).Where(`"providerId" = ?`, CredentialProvider).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("set password of user %s: %w", userID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			acct := NewCredentialAccount(newAccountID, userID, hash, now)
			if _, err := tx.NewInsert().Model(acct).Exec(ctx); err != nil {
				return fmt.Errorf("add credential for user %s: %w", userID, err)
			}
		}
		if _, err := tx.NewDelete().Model((*Session)(nil)).Where(`"userId" = ?`, userID).Exec(ctx); err != nil {
			return fmt.Errorf("end sessions of user %s: %w", userID, err)
		}
		return nil
	})
}

// DeleteUser removes the user; the foreign keys take their sessions,
// accounts and tasks with them. It returns ErrNotFound for an unknown id.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	res, err := s.db.Write.NewDelete().Model((*User)(nil)).Where("id = ?", userID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete user %s: %w", userID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// NewCredentialAccount builds the email/password account row Better Auth
// expects: accountId equal to the user id.
func NewCredentialAccount(id, userID, hash string, now Time) *Account {
	return &Account{
		ID:         id,
		AccountID:  userID,
		ProviderID: CredentialProvider,
		UserID:     userID,
		Password:   &hash,
		CreatedAt:  now,
		UpdatedAt:  now,
	}
}
