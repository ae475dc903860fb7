package database

import (
	"database/sql"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"
)

func openPostgres(dsn string, opts Options) (*DB, error) {
	timeout := opts.QueryTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	connector := pgdriver.NewConnector(
		pgdriver.WithDSN(dsn),
		pgdriver.WithDialTimeout(min(timeout, 5*time.Second)),
		pgdriver.WithReadTimeout(timeout),
		pgdriver.WithWriteTimeout(timeout),
	)
	sqldb := sql.OpenDB(guardedConnector{connector})
	sqldb.SetMaxOpenConns(max(opts.MaxOpenConns, 1))
	sqldb.SetMaxIdleConns(opts.MaxIdleConns)
	sqldb.SetConnMaxLifetime(opts.ConnMaxLifetime)
	// Idle connections are dropped after a while so a database restart does not
	// leave a pool full of dead sockets for the next burst of requests.
	sqldb.SetConnMaxIdleTime(5 * time.Minute)

	db := bun.NewDB(sqldb, pgdialect.New())
	return &DB{Dialect: Postgres, Write: db, Read: db, readStmts: &statements{}}, nil
}
