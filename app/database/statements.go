package database

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// maxStatements bounds each pool's statement cache. Every statement is
// prepared on each connection that runs it, so the bound keeps a stream of
// differently shaped queries from growing memory; queries past it run
// unprepared.
const maxStatements = 256

// statements caches prepared statements by their SQL. database/sql prepares
// a *sql.Stmt once on each connection that runs it and re-prepares it on
// new connections (after a reconnect, say), so one per query and pool is
// enough. Parsing and planning is most of the cost of a small indexed query
// on SQLite, and a round trip's worth on PostgreSQL; the hot queries skip it.
type statements struct {
	m       sync.Map // SQL -> *sql.Stmt
	n       atomic.Int64
	pending sync.Map // SQL -> struct{}: being prepared in the background
}

// QueryRead runs query on the read pool as a prepared statement. query uses
// ? placeholders on both engines; they become $1, $2, ... on PostgreSQL, so
// query must not hold a literal question mark, and it must be fixed SQL
// (values go in args) or the cache fills with one-off statements.
func (db *DB) QueryRead(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.readStmts.query(ctx, db.Read, db.Dialect, query, args)
}

// QueryWrite runs query as a prepared statement of the write pool, on conn:
// the transaction a WriteTx function received, or what a WriteStatement
// function received (a transaction on SQLite, the pool on PostgreSQL). The
// rules for query are QueryRead's. On SQLite, preparing is most of the cost
// of a small INSERT, and more with triggers, which are compiled into it.
func (db *DB) QueryWrite(ctx context.Context, conn bun.IDB, query string, args ...any) (*sql.Rows, error) {
	switch c := conn.(type) {
	case bun.Tx:
		// The transaction holds its connection, on SQLite the write pool's
		// only one, so preparing through the pool now would wait for this
		// very transaction. A statement not prepared yet runs unprepared and
		// is prepared in the background once the connection is free.
		if st, ok := db.writeStmts.m.Load(query); ok {
			return c.Tx.StmtContext(ctx, st.(*sql.Stmt)).QueryContext(ctx, args...)
		}
		db.writeStmts.prepareLater(db.Write, db.Dialect, query)
		return c.Tx.QueryContext(ctx, Rebind(db.Dialect, query), args...)
	case *bun.DB:
		return db.writeStmts.query(ctx, c, db.Dialect, query, args)
	default:
		return nil, fmt.Errorf("query write: unsupported connection %T", conn)
	}
}

// prepareLater prepares query on pool in the background, once at a time.
func (s *statements) prepareLater(pool *bun.DB, d Dialect, query string) {
	if _, busy := s.pending.LoadOrStore(query, struct{}{}); busy {
		return
	}
	go func() {
		// A failure (the pool closing, say) leaves the query unprepared; a
		// later call tries again.
		defer s.pending.Delete(query)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = s.get(ctx, pool, d, query)
	}()
}

func (s *statements) query(ctx context.Context, pool *bun.DB, d Dialect, query string, args []any) (*sql.Rows, error) {
	st, err := s.get(ctx, pool, d, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return pool.DB.QueryContext(ctx, Rebind(d, query), args...)
	}
	return st.QueryContext(ctx, args...)
}

// get returns the statement for query, preparing it on first use, or nil
// when the cache is full.
func (s *statements) get(ctx context.Context, pool *bun.DB, d Dialect, query string) (*sql.Stmt, error) {
	if st, ok := s.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	if s.n.Load() >= maxStatements {
		return nil, nil
	}
	st, err := pool.DB.PrepareContext(ctx, Rebind(d, query))
	if err != nil {
		return nil, fmt.Errorf("prepare statement: %w", err)
	}
	if prev, loaded := s.m.LoadOrStore(query, st); loaded {
		// Another request prepared it first; keep theirs.
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	s.n.Add(1)
	return st, nil
}

// Rebind writes query's ? placeholders in the engine's own form.
func Rebind(d Dialect, query string) string {
	if d == Postgres {
		return numberPlaceholders(query)
	}
	return query
}

// numberPlaceholders turns each ? into PostgreSQL's $n.
func numberPlaceholders(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
