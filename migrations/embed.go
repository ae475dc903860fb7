// Package migrations holds the schema as plain SQL files, one set per
// database engine, in the layout github.com/uptrace/bun/migrate discovers:
// <14-digit timestamp>_<name>.tx.up.sql and .tx.down.sql, statements
// separated by "--bun:split". The files are embedded so the binary migrates
// its database without anything on disk.
//
// The package imports nothing from the application so that tools and tests
// can read the SQL without pulling in the server.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// SQLite returns the migrations for SQLite, rooted at their directory.
func SQLite() fs.FS { return sub("sqlite") }

// Postgres returns the migrations for PostgreSQL, rooted at their directory.
func Postgres() fs.FS { return sub("postgres") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		// fs.Sub fails only for an invalid path, and dir is a constant.
		panic(err)
	}
	return f
}
