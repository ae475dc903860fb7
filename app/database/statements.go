package database

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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
	m sync.Map // SQL -> *sql.Stmt
	n atomic.Int64
}

// QueryRead runs query on the read pool as a prepared statement. query uses
// ? placeholders on both engines; they become $1, $2, ... on PostgreSQL, so
// query must not hold a literal question mark, and it must be fixed SQL
// (values go in args) or the cache fills with one-off statements.
func (db *DB) QueryRead(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.readStmts.query(ctx, db.Read, db.Dialect, query, args)
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
