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
	// The prepared statements (statements.go) are all one user's rows
	// through an index that leads with user_id, so the generic plan is the
	// right one for every user. Under the default (auto), PostgreSQL plans
	// each execution anew while it finds a custom plan cheaper, and for a
	// user created since the last ANALYZE it estimates one task and sorts
	// all of them: a list of 20 read 1,000 rows and fell from 5,600 to 1,800
	// req/s. A plan_cache_mode in the URL still wins.
	conf := connector.Config()
	if conf.ConnParams == nil {
		conf.ConnParams = map[string]any{}
	}
	if _, set := conf.ConnParams["plan_cache_mode"]; !set {
		conf.ConnParams["plan_cache_mode"] = "force_generic_plan"
	}
	sqldb := sql.OpenDB(guardedConnector{connector})
	sqldb.SetMaxOpenConns(max(opts.MaxOpenConns, 1))
	sqldb.SetMaxIdleConns(opts.MaxIdleConns)
	sqldb.SetConnMaxLifetime(opts.ConnMaxLifetime)
	// Idle connections are dropped after a while so a database restart does not
	// leave a pool full of dead sockets for the next burst of requests.
	sqldb.SetConnMaxIdleTime(5 * time.Minute)

	db := bun.NewDB(sqldb, pgdialect.New())
	// One pool serves reads and writes, so one statement cache does too.
	stmts := &statements{}
	return &DB{Dialect: Postgres, Write: db, Read: db, readStmts: stmts, writeStmts: stmts}, nil
}
