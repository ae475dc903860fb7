// Package dbtest gives tests a fresh, empty database on every supported
// engine: a SQLite file in a temporary directory and a PostgreSQL database
// with a random name that is dropped when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/todo-app/todo/app/database"
)

// PostgresURLEnv names the variable holding the server tests create their
// databases on; RequirePostgresEnv (or CI=true) turns a missing server into a
// failure instead of a skip.
const (
	PostgresURLEnv     = "TODOTEST_POSTGRES_URL"
	RequirePostgresEnv = "TODOTEST_REQUIRE_POSTGRES"
	defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

// Dialects lists the engines every database test runs on.
var Dialects = []database.Dialect{database.SQLite, database.Postgres}

// Each runs fn as a subtest once per engine, each with its own empty database.
func Each(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			fn(t, NewURL(t, d))
		})
	}
}

// NewURL creates an empty database of the given engine and returns its
// database.url; it is removed when the test ends.
func NewURL(t testing.TB, d database.Dialect) string {
	t.Helper()
	if d == database.SQLite {
		return "sqlite://" + filepath.Join(t.TempDir(), "todo.db")
	}
	return newPostgres(t)
}

// OpenURL opens the existing database at url with a small pool of its own,
// as another process (the CLI, another instance) would, for checks and
// changes behind the server's back; it is closed when the test ends.
func OpenURL(t testing.TB, url string) *database.DB {
	t.Helper()
	db, err := database.Open(database.Options{URL: url, MaxOpenConns: 2, MaxIdleConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Open creates an empty database of the given engine and opens it.
func Open(t testing.TB, d database.Dialect) *database.DB {
	t.Helper()
	db, err := database.Open(database.Options{URL: NewURL(t, d), MaxOpenConns: 8, MaxIdleConns: 8})
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

var (
	adminOnce sync.Once
	adminDB   *sql.DB
	adminErr  error
)

func adminURL() string {
	if u := os.Getenv(PostgresURLEnv); u != "" {
		return u
	}
	return defaultPostgresURL
}

// PostgresRequired reports whether a missing PostgreSQL must fail the run.
func PostgresRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv(RequirePostgresEnv) == "1"
}

func admin(t testing.TB) *sql.DB {
	t.Helper()
	adminOnce.Do(func() {
		db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(adminURL()), pgdriver.WithDialTimeout(3*time.Second)))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			adminErr = err
			_ = db.Close()
			return
		}
		adminDB = db
	})
	if adminErr != nil {
		if PostgresRequired() {
			t.Fatalf("PostgreSQL is required (CI=true or %s=1) but %s is unreachable: %v", RequirePostgresEnv, adminURL(), adminErr)
		}
		t.Skipf("PostgreSQL unreachable at %s (%v); set %s to run these tests", adminURL(), adminErr, PostgresURLEnv)
	}
	return adminDB
}

func newPostgres(t testing.TB) string {
	t.Helper()
	db := admin(t)
	buf := make([]byte, 8)
	_, _ = rand.Read(buf)
	name := "todo_test_" + hex.EncodeToString(buf)
	ctx := context.Background()
	// The name is generated from hex digits above, never from input, so
	// building the statement is safe; CREATE DATABASE takes no parameters.
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL())
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}
