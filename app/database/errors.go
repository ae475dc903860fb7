package database

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/uptrace/bun/driver/pgdriver"
)

// IsUnavailable reports whether err means the database could not be reached
// or is shutting down, as opposed to a fault in the query itself. Such errors
// are answered with 503 so clients retry instead of reporting a bug.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if code := SQLState(err); code != "" {
		// Class 08 is connection exceptions; 57P01-57P03 are the server
		// shutting down or starting up; 53300 is too many connections.
		return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P") || code == "53300"
	}
	msg := err.Error()
	// SQLite reports a lock held past busy_timeout and a closed pool only as text.
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "sql: database is closed")
}

// SQLState returns the SQLSTATE code of the PostgreSQL error in err's chain,
// or "" when there is none (SQLite errors have none).
func SQLState(err error) string {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field('C')
	}
	return ""
}
