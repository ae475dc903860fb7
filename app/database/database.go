// Package database opens the SQLite or PostgreSQL database the server runs on
// and hands out Bun handles for reads and writes.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Dialect names the database engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options configures the connection pools.
type Options struct {
	URL             string
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	// QueryTimeout bounds how long one statement may wait on a PostgreSQL
	// socket, so an unreachable server fails requests instead of hanging them.
	QueryTimeout time.Duration
}

// DB is the server's database. On SQLite it holds two pools: Write has a
// single connection so writers queue in Go instead of failing with
// "database is locked", and Read is a pool of read-only connections that WAL
// lets run beside the writer. On PostgreSQL both are the same pool.
type DB struct {
	Dialect Dialect
	Write   *bun.DB
	Read    *bun.DB
	// Path is the SQLite file, empty on PostgreSQL.
	Path string

	readStmts  *statements
	writeStmts *statements
	// group commits concurrent writes together on SQLite; nil on PostgreSQL,
	// whose connections commit in parallel.
	group *groupCommit
}

// WriteTx runs fn in a write transaction and returns once it has committed
// (or failed). On SQLite, fn may share its transaction with writes of other
// requests (group commit): it runs in a savepoint of its own, so its error
// undoes only its own changes, and fn must not keep tx or ctx after
// returning. ctx's cancellation stops fn from starting, never in the middle.
// A panic in fn undoes fn's changes and goes on in the caller's goroutine on
// both engines.
func (db *DB) WriteTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	// A copy of the DB with another Write pool (tests add query hooks that
	// way) writes through that pool.
	if db.group == nil || db.group.db != db.Write {
		return db.Write.RunInTx(ctx, nil, fn)
	}
	return db.group.do(ctx, fn)
}

// WriteStatement runs fn, which must send exactly one statement, as a write.
// A single statement commits by itself, so on PostgreSQL it runs on the pool
// without a transaction around it (one round trip instead of three); on
// SQLite it still goes through WriteTx, to share a commit with its group.
func (db *DB) WriteStatement(ctx context.Context, fn func(ctx context.Context, db bun.IDB) error) error {
	if db.Dialect == Postgres {
		return fn(ctx, db.Write)
	}
	return db.WriteTx(ctx, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) })
}

// Open connects to the database named by opts.URL without waiting for it to
// answer; call WaitReady before relying on it.
func Open(opts Options) (*DB, error) {
	kind, target, err := ParseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	switch kind {
	case SQLite:
		return openSQLite(target, opts)
	default:
		return openPostgres(target, opts)
	}
}

// ParseURL splits database.url into the engine and what the driver needs:
// the file path for SQLite, the URL itself for PostgreSQL.
func ParseURL(raw string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		if path == "" {
			return "", "", errors.New("database.url: sqlite:// needs a file path, e.g. sqlite://./data/todo.db")
		}
		if strings.ContainsAny(path, "?#") {
			return "", "", fmt.Errorf("database.url: SQLite path %q must not contain '?' or '#'", path)
		}
		return SQLite, path, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", "", errors.New("database.url: not a valid postgres:// URL")
		}
		return Postgres, raw, nil
	default:
		return "", "", errors.New("database.url: must start with sqlite:// or postgres://")
	}
}

// Ping checks that the database answers, through the pool requests use.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.Read.PingContext(ctx); err != nil {
		return err
	}
	if db.Read != db.Write {
		return db.Write.PingContext(ctx)
	}
	return nil
}

// WaitReady pings until the database answers or timeout passes, backing off
// between attempts, so a server started alongside its database (as container
// orchestrators do) does not give up on the first refused connection.
func (db *DB) WaitReady(ctx context.Context, timeout time.Duration, onRetry func(attempt int, err error)) error {
	deadline := time.Now().Add(timeout)
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := db.Ping(pingCtx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("database unreachable after %d attempts over %s: %w", attempt, timeout, err)
		}
		if onRetry != nil {
			onRetry(attempt, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// Close closes every pool.
func (db *DB) Close() error {
	if db.group != nil {
		db.group.close()
	}
	err := db.Write.Close()
	if db.Read != db.Write {
		err = errors.Join(err, db.Read.Close())
	}
	return err
}

// Stats reports the pools' connection statistics.
func (db *DB) Stats() (write, read sql.DBStats) {
	return db.Write.DB.Stats(), db.Read.DB.Stats()
}
