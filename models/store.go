package models

import (
	"errors"
	"strings"

	"github.com/todo-app/todo/app/database"
)

// Store runs every query of the application against one database.
type Store struct {
	db *database.DB
	// creates batches concurrent task creates on PostgreSQL; nil on SQLite.
	creates *database.Batcher[*Task]
}

// NewStore wraps db.
func NewStore(db *database.DB) *Store {
	s := &Store{db: db}
	if db.Dialect == database.Postgres {
		s.creates = s.newCreateBatcher()
	}
	return s
}

// ErrNotFound is returned when a row the caller asked for does not exist (or
// belongs to another user, which callers must not be able to tell apart).
var ErrNotFound = errors.New("not found")

// ErrEmailTaken is returned when an account with the email already exists.
var ErrEmailTaken = errors.New("email already registered")

// isUniqueViolation reports a UNIQUE constraint failure on either engine.
func isUniqueViolation(err error) bool {
	if code := database.SQLState(err); code != "" {
		return code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isRowRejection reports a PostgreSQL error about the data of a row (class
// 22, data exception, or 23, integrity constraint violation) rather than
// about the statement or the connection.
func isRowRejection(err error) bool {
	code := database.SQLState(err)
	return strings.HasPrefix(code, "22") || strings.HasPrefix(code, "23")
}
