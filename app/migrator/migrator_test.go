package migrator_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/migrator"
)

// ts is a timestamp in the one format the project stores.
const ts = "2026-12-02T17:19:08.220Z"

// eachDialect runs fn in parallel subtests, one per engine, each with a fresh
// empty database.
func eachDialect(t *testing.T, fn func(t *testing.T, db *database.DB)) {
	t.Helper()
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, dbtest.Open(t, d))
		})
	}
}

func newMigrator(t *testing.T, db *database.DB) *migrator.Migrator {
	t.Helper()
	m, err := migrator.New(db)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func names(t *testing.T, m *migrator.Migrator) []string {
	t.Helper()
	st, err := m.Status(ctx(t))
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	var out []string
	for _, s := range st {
		out = append(out, s.Name)
	}
	return out
}

func mustUp(t *testing.T, m *migrator.Migrator) []string {
	t.Helper()
	got, err := m.Up(ctx(t))
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	return got
}

func pending(t *testing.T, m *migrator.Migrator) int {
	t.Helper()
	n, err := m.Pending(ctx(t))
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return n
}

func queryStrings(t *testing.T, db *database.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Write.QueryContext(ctx(t), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, db *database.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Write.QueryRowContext(ctx(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func exec(db *database.DB, t *testing.T, query string, args ...any) error {
	_, err := db.Write.ExecContext(ctx(t), query, args...)
	return err
}

func mustExec(t *testing.T, db *database.DB, query string, args ...any) {
	t.Helper()
	if err := exec(db, t, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// --- schema introspection -------------------------------------------------

type column struct {
	Name    string
	Type    string
	NotNull bool
}

type schema struct {
	Tables  []string
	Columns map[string][]column
	Indexes map[string][]string // named (explicitly created) indexes per table
}

func readSchema(t *testing.T, db *database.DB) schema {
	t.Helper()
	s := schema{Columns: map[string][]column{}, Indexes: map[string][]string{}}
	lite := db.Dialect == database.SQLite
	if lite {
		s.Tables = queryStrings(t, db,
			`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	} else {
		s.Tables = queryStrings(t, db, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	}
	for _, table := range s.Tables {
		var q string
		if lite {
			q = `SELECT name, type, "notnull" <> 0 FROM pragma_table_info(?) ORDER BY cid`
		} else {
			q = `SELECT column_name, data_type, is_nullable = 'NO' FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`
		}
		rows, err := db.Write.QueryContext(ctx(t), q, table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c column
			if err := rows.Scan(&c.Name, &c.Type, &c.NotNull); err != nil {
				t.Fatal(err)
			}
			s.Columns[table] = append(s.Columns[table], c)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		// Indexes backing PRIMARY KEY and UNIQUE constraints get
		// engine-specific names; only the ones the migrations name count.
		if lite {
			s.Indexes[table] = queryStrings(t, db,
				`SELECT name FROM pragma_index_list(?) WHERE origin = 'c' ORDER BY name`, table)
		} else {
			s.Indexes[table] = queryStrings(t, db, `SELECT indexname FROM pg_indexes
				WHERE schemaname = current_schema() AND tablename = ?
				AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))
				ORDER BY indexname`, table)
		}
	}
	return s
}

func columnNames(cs []column) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// --- tests ------------------------------------------------------------------

func TestUpFromEmpty(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		m := newMigrator(t, db)
		all := names(t, m)
		if len(all) < 2 {
			t.Fatalf("known migrations = %v", all)
		}
		if n := pending(t, m); n != len(all) {
			t.Fatalf("Pending before Up = %d, want %d", n, len(all))
		}
		if got := mustUp(t, m); !slices.Equal(got, all) {
			t.Fatalf("Up applied %v, want %v", got, all)
		}
		st, err := m.Status(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if !s.Applied || s.Group != 1 || s.AppliedAt.IsZero() {
				t.Errorf("after Up: %+v, want applied in group 1 with a time", s)
			}
		}
		if n := pending(t, m); n != 0 {
			t.Fatalf("Pending after Up = %d", n)
		}
		if got := mustUp(t, m); len(got) != 0 {
			t.Fatalf("second Up applied %v", got)
		}
		if n := count(t, db, "SELECT count(*) FROM "+migrator.TableName); n != len(all) {
			t.Fatalf("%s has %d rows, want %d", migrator.TableName, n, len(all))
		}
		// A new Migrator on the same database sees the same state.
		if n := pending(t, newMigrator(t, db)); n != 0 {
			t.Fatalf("fresh Migrator: Pending = %d", n)
		}
	})
}

func TestStatusDoesNotCreateTables(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		m := newMigrator(t, db)
		st, err := m.Status(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Applied || s.Group != 0 || !s.AppliedAt.IsZero() {
				t.Errorf("fresh database: %+v", s)
			}
		}
		if tables := readSchema(t, db).Tables; len(tables) != 0 {
			t.Fatalf("Status created %v", tables)
		}
	})
}

func TestUpDownUp(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		m := newMigrator(t, db)
		all := names(t, m)
		mustUp(t, m)
		got, err := m.Down(ctx(t), len(all))
		if err != nil {
			t.Fatalf("Down all: %v", err)
		}
		want := slices.Clone(all)
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Fatalf("Down rolled back %v, want %v", got, want)
		}
		left := readSchema(t, db).Tables
		for _, table := range left {
			if table != migrator.TableName && table != migrator.LocksTableName {
				t.Errorf("table %q left after rolling everything back (all: %v)", table, left)
			}
		}
		if n := pending(t, m); n != len(all) {
			t.Fatalf("Pending after Down all = %d, want %d", n, len(all))
		}
		if got := mustUp(t, m); !slices.Equal(got, all) {
			t.Fatalf("Up again applied %v, want %v", got, all)
		}
		st, _ := m.Status(ctx(t))
		for _, s := range st {
			if !s.Applied || s.Group != 1 {
				t.Errorf("after Up again: %+v, want applied in a fresh group 1", s)
			}
		}
	})
}

func TestDownOne(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		m := newMigrator(t, db)
		all := names(t, m)
		mustUp(t, m)
		got, err := m.Down(ctx(t), 1)
		if err != nil {
			t.Fatalf("Down 1: %v", err)
		}
		newest := all[len(all)-1]
		if !slices.Equal(got, []string{newest}) {
			t.Fatalf("Down 1 rolled back %v, want [%s]", got, newest)
		}
		st, _ := m.Status(ctx(t))
		for i, s := range st {
			if want := i < len(all)-1; s.Applied != want {
				t.Errorf("%s applied = %v, want %v", s.Name, s.Applied, want)
			}
		}
		// Rolling back the newest migration leaves the older ones' tables.
		if after := readSchema(t, db); !slices.Contains(after.Tables, "task") || !slices.Contains(after.Tables, "user") {
			t.Fatalf("after Down 1 tables are %v", after.Tables)
		}

		// Re-applying puts the migration in a new group.
		if got := mustUp(t, m); !slices.Equal(got, []string{newest}) {
			t.Fatalf("Up after Down 1 applied %v", got)
		}
		st, _ = m.Status(ctx(t))
		if last := st[len(st)-1]; last.Group != 2 {
			t.Fatalf("re-applied %s in group %d, want 2", last.Name, last.Group)
		}
	})
}

func TestDownRefusals(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		m := newMigrator(t, db)
		all := names(t, m)
		if _, err := m.Down(ctx(t), 1); err == nil {
			t.Fatal("Down 1 on an empty database succeeded")
		}
		mustUp(t, m)
		before := readSchema(t, db)
		for _, n := range []int{0, -1, len(all) + 1} {
			got, err := m.Down(ctx(t), n)
			if err == nil || len(got) != 0 {
				t.Fatalf("Down(%d) = %v, %v; want an error and nothing rolled back", n, got, err)
			}
		}
		if n := pending(t, m); n != 0 {
			t.Fatalf("refused Down changed the status: %d pending", n)
		}
		if after := readSchema(t, db); !slices.Equal(after.Tables, before.Tables) {
			t.Fatalf("refused Down changed the tables: %v -> %v", before.Tables, after.Tables)
		}
	})
}

// A newer binary's migration in the database must stop an older binary.
func TestUnknownAppliedMigration(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		m := newMigrator(t, db)
		mustUp(t, m)
		mustExec(t, db, "INSERT INTO "+migrator.TableName+" (name, group_id, migrated_at) VALUES (?, ?, ?)",
			"29991231000000", 2, time.Now().UTC())
		_, err := m.Up(ctx(t))
		var unknown *migrator.UnknownMigrationError
		if !errors.As(err, &unknown) || unknown.Name != "29991231000000" {
			t.Fatalf("Up = %v, want UnknownMigrationError for 29991231000000", err)
		}
		if !strings.Contains(err.Error(), "upgrade todo") {
			t.Fatalf("message %q does not say to upgrade", err)
		}
		if _, err := m.Down(ctx(t), 1); !errors.As(err, &unknown) {
			t.Fatalf("Down = %v, want UnknownMigrationError", err)
		}
		if db.Dialect == database.Postgres {
			assertLockFree(t, db)
		}
	})
}

func assertLockFree(t *testing.T, db *database.DB) {
	t.Helper()
	conn, err := db.Write.DB.Conn(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var ok bool
	if err := conn.QueryRowContext(ctx(t), "SELECT pg_try_advisory_lock($1)", migrator.AdvisoryLockKey).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatal("the migration advisory lock is still held")
	}
	if _, err := conn.ExecContext(ctx(t), "SELECT pg_advisory_unlock($1)", migrator.AdvisoryLockKey); err != nil {
		t.Fatal(err)
	}
}

// Both engines must end with the same tables, columns and index names, so
// application queries and operators' tooling work the same on either.
func TestDialectsMatch(t *testing.T) {
	t.Parallel()
	got := map[database.Dialect]schema{}
	for _, d := range dbtest.Dialects {
		db := dbtest.Open(t, d)
		mustUp(t, newMigrator(t, db))
		got[d] = readSchema(t, db)
	}
	lite, pg := got[database.SQLite], got[database.Postgres]
	if !slices.Equal(lite.Tables, pg.Tables) {
		t.Fatalf("tables differ: sqlite %v, postgres %v", lite.Tables, pg.Tables)
	}
	for _, table := range lite.Tables {
		if a, b := columnNames(lite.Columns[table]), columnNames(pg.Columns[table]); !slices.Equal(a, b) {
			t.Errorf("%s columns differ: sqlite %v, postgres %v", table, a, b)
		}
		if a, b := lite.Indexes[table], pg.Indexes[table]; !slices.Equal(a, b) {
			t.Errorf("%s indexes differ: sqlite %v, postgres %v", table, a, b)
		}
	}
	wantTask := []string{"task_user_category_idx", "task_user_completed_at_idx", "task_user_created_at_idx",
		"task_user_due_sort_idx", "task_user_priority_idx", "task_user_status_due_date_idx", "task_user_title_idx", "task_user_updated_at_idx"}
	if !slices.Equal(lite.Indexes["task"], wantTask) {
		t.Errorf("task indexes = %v, want %v", lite.Indexes["task"], wantTask)
	}
}

// Better Auth's default schema, from reference/better-auth.md: kind s =
// string, b = boolean, d = date; nn = NOT NULL.
type authColumn struct {
	name string
	kind byte
	nn   bool
}

var authSchema = map[string][]authColumn{
	"user": {
		{"id", 's', true}, {"name", 's', true}, {"email", 's', true}, {"emailVerified", 'b', true},
		{"image", 's', false}, {"createdAt", 'd', true}, {"updatedAt", 'd', true},
	},
	"session": {
		{"id", 's', true}, {"expiresAt", 'd', true}, {"token", 's', true}, {"createdAt", 'd', true},
		{"updatedAt", 'd', true}, {"ipAddress", 's', false}, {"userAgent", 's', false}, {"userId", 's', true},
	},
	"account": {
		{"id", 's', true}, {"accountId", 's', true}, {"providerId", 's', true}, {"userId", 's', true},
		{"accessToken", 's', false}, {"refreshToken", 's', false}, {"idToken", 's', false},
		{"accessTokenExpiresAt", 'd', false}, {"refreshTokenExpiresAt", 'd', false}, {"scope", 's', false},
		{"password", 's', false}, {"createdAt", 'd', true}, {"updatedAt", 'd', true},
	},
	"verification": {
		{"id", 's', true}, {"identifier", 's', true}, {"value", 's', true}, {"expiresAt", 'd', true},
		{"createdAt", 'd', true}, {"updatedAt", 'd', true},
	},
}

var authIndexes = map[string][]string{
	"user":         nil,
	"session":      {"session_userId_idx"},
	"account":      {"account_userId_idx"},
	"verification": {"verification_identifier_idx"},
}

// The types Better Auth's Kysely migration generator declares.
var authTypes = map[database.Dialect]map[byte]string{
	database.SQLite:   {'s': "text", 'b': "integer", 'd': "date"},
	database.Postgres: {'s': "text", 'b': "boolean", 'd': "timestamp with time zone"},
}

func TestAuthTablesMatchBetterAuth(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		mustUp(t, newMigrator(t, db))
		s := readSchema(t, db)
		for table, want := range authSchema {
			got := s.Columns[table]
			if len(got) != len(want) {
				t.Errorf("%s columns = %v, want %d", table, columnNames(got), len(want))
				continue
			}
			for i, w := range want {
				g := got[i]
				if g.Name != w.name {
					t.Errorf("%s column %d = %q, want %q", table, i, g.Name, w.name)
				}
				if g.NotNull != w.nn {
					t.Errorf("%s.%s NOT NULL = %v, want %v", table, w.name, g.NotNull, w.nn)
				}
				// SQLite reports some declared types upper-cased; Better Auth
				// compares them case-insensitively too.
				if typ := authTypes[db.Dialect][w.kind]; !strings.EqualFold(g.Type, typ) {
					t.Errorf("%s.%s type = %q, want %q", table, w.name, g.Type, typ)
				}
			}
			if !slices.Equal(s.Indexes[table], authIndexes[table]) {
				t.Errorf("%s indexes = %v, want %v", table, s.Indexes[table], authIndexes[table])
			}
		}
	})
}

func insertUser(t *testing.T, db *database.DB, id, email string) {
	t.Helper()
	mustExec(t, db, `INSERT INTO "user" ("id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt")
		VALUES (?, 'Ada', ?, ?, NULL, ?, ?)`, id, email, false, ts, ts)
}

func insertTask(db *database.DB, t *testing.T, userID, title string, priority int) error {
	return exec(db, t, `INSERT INTO "task" ("user_id", "title", "priority", "created_at", "updated_at")
		VALUES (?, ?, ?, ?, ?)`, userID, title, priority, ts, ts)
}

func TestConstraints(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *database.DB) {
		mustUp(t, newMigrator(t, db))
		insertUser(t, db, "u1", "ada@example.com")
		insertUser(t, db, "u2", "bob@example.com")
		mustExec(t, db, `INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", "userId")
			VALUES ('s1', ?, 'tok1', ?, ?, 'u1')`, ts, ts, ts)
		mustExec(t, db, `INSERT INTO "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt")
			VALUES ('a1', 'u1', 'credential', 'u1', 'hash', ?, ?)`, ts, ts)
		if err := insertTask(db, t, "u1", "first", 2); err != nil {
			t.Fatalf("insert task: %v", err)
		}
		if err := insertTask(db, t, "u2", "other user's", 2); err != nil {
			t.Fatalf("insert task: %v", err)
		}

		t.Run("unique", func(t *testing.T) {
			if err := exec(db, t, `INSERT INTO "user" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt")
				VALUES ('u3', 'Ada', 'ada@example.com', ?, ?, ?)`, false, ts, ts); err == nil {
				t.Error("a second user with the same email was accepted")
			}
			if err := exec(db, t, `INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", "userId")
				VALUES ('s2', ?, 'tok1', ?, ?, 'u2')`, ts, ts, ts); err == nil {
				t.Error("a second session with the same token was accepted")
			}
		})

		t.Run("defaults", func(t *testing.T) {
			var status bool
			var priority, version int
			if err := db.Write.QueryRowContext(ctx(t), `SELECT "status", "priority", "version" FROM "task"
				WHERE "user_id" = 'u1'`).Scan(&status, &priority, &version); err != nil {
				t.Fatal(err)
			}
			if status || priority != 2 || version != 1 {
				t.Errorf("defaults: status %v priority %d version %d", status, priority, version)
			}
			if err := exec(db, t, `INSERT INTO "task" ("user_id", "title", "created_at", "updated_at")
				VALUES ('u1', 'defaulted', ?, ?)`, ts, ts); err != nil {
				t.Fatalf("insert with defaults: %v", err)
			}
			if n := count(t, db, `SELECT count(*) FROM "task" WHERE "title" = 'defaulted' AND "priority" = 2`); n != 1 {
				t.Errorf("priority did not default to 2")
			}
		})

		t.Run("checks", func(t *testing.T) {
			cases := []struct {
				name     string
				title    string
				priority int
				ok       bool
			}{
				{"200 multi-byte characters", strings.Repeat("é", 200), 2, true},
				{"201 characters", strings.Repeat("a", 201), 2, false},
				{"empty title", "", 2, false},
				{"priority 4", "x", 4, false},
				{"priority 0", "x", 0, false},
				{"priority 3", "x", 3, true},
			}
			for _, c := range cases {
				err := insertTask(db, t, "u1", c.title, c.priority)
				if c.ok && err != nil {
					t.Errorf("%s: rejected: %v", c.name, err)
				}
				if !c.ok && err == nil {
					t.Errorf("%s: accepted", c.name)
				}
			}
			if err := exec(db, t, `INSERT INTO "task" ("user_id", "title", "description", "created_at", "updated_at")
				VALUES ('u1', 'x', ?, ?, ?)`, strings.Repeat("ü", 1001), ts, ts); err == nil {
				t.Error("1001-character description accepted")
			}
			if err := exec(db, t, `INSERT INTO "task" ("user_id", "title", "category", "created_at", "updated_at")
				VALUES ('u1', 'x', ?, ?, ?)`, strings.Repeat("c", 101), ts, ts); err == nil {
				t.Error("101-character category accepted")
			}
			if err := exec(db, t, `INSERT INTO "task" ("user_id", "title", "created_at", "updated_at")
				VALUES ('nobody', 'x', ?, ?)`, ts, ts); err == nil {
				t.Error("task for a missing user accepted")
			}
			if db.Dialect == database.SQLite {
				// Text comparison of timestamps is only right in one format.
				for _, bad := range []string{"2026-12-02 17:19:08", "2026-12-02T17:19:08Z", "2026-12-02T17:19:08.220+01:00"} {
					if err := exec(db, t, `INSERT INTO "task" ("user_id", "title", "created_at", "updated_at")
						VALUES ('u1', 'x', ?, ?)`, bad, ts); err == nil {
						t.Errorf("created_at %q accepted", bad)
					}
				}
				if err := exec(db, t, `INSERT INTO "task" ("user_id", "title", "status", "created_at", "updated_at")
					VALUES ('u1', 'x', 2, ?, ?)`, ts, ts); err == nil {
					t.Error("status 2 accepted")
				}
			}
		})

		t.Run("cascade", func(t *testing.T) {
			mustExec(t, db, `DELETE FROM "user" WHERE "id" = 'u1'`)
			for _, q := range []string{
				`SELECT count(*) FROM "session" WHERE "userId" = 'u1'`,
				`SELECT count(*) FROM "account" WHERE "userId" = 'u1'`,
				`SELECT count(*) FROM "task" WHERE "user_id" = 'u1'`,
			} {
				if n := count(t, db, q); n != 0 {
					t.Errorf("%s = %d after deleting the user", q, n)
				}
			}
			if n := count(t, db, `SELECT count(*) FROM "task" WHERE "user_id" = 'u2'`); n != 1 {
				t.Errorf("another user's tasks went too: %d left", n)
			}
		})
	})
}

// Instances started together (a rolling deploy, or a CLI beside a server)
// must each succeed and apply every migration exactly once between them.
func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			url := dbtest.NewURL(t, d)
			var ms []*migrator.Migrator
			var dbs []*database.DB
			for range 2 {
				db, err := database.Open(database.Options{URL: url, MaxOpenConns: 4, MaxIdleConns: 4})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = db.Close() })
				dbs = append(dbs, db)
				ms = append(ms, newMigrator(t, db))
			}
			all := names(t, ms[0])

			var wg sync.WaitGroup
			start := make(chan struct{})
			applied := make([][]string, len(ms))
			errs := make([]error, len(ms))
			for i, m := range ms {
				wg.Go(func() {
					<-start
					applied[i], errs[i] = m.Up(ctx(t))
				})
			}
			close(start)
			wg.Wait()

			var union []string
			for i, err := range errs {
				if err != nil {
					t.Fatalf("migrator %d: %v", i, err)
				}
				union = append(union, applied[i]...)
			}
			slices.Sort(union)
			if !slices.Equal(union, all) {
				t.Fatalf("applied %v and %v between them, want each of %v once", applied[0], applied[1], all)
			}
			if n := count(t, dbs[0], "SELECT count(DISTINCT name) FROM "+migrator.TableName); n != len(all) {
				t.Fatalf("%d distinct migrations recorded, want %d", n, len(all))
			}
			if n := count(t, dbs[0], "SELECT count(*) FROM "+migrator.TableName); n != len(all) {
				t.Fatalf("%d rows recorded, want %d", n, len(all))
			}
			if d == database.Postgres {
				assertLockFree(t, dbs[0])
			}
		})
	}
}

// A cancelled wait for the lock must give up and leave the lock usable.
func TestLockWaitHonoursContext(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, database.Postgres)
	holder, err := db.Write.DB.Conn(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx(t), "SELECT pg_advisory_lock($1)", migrator.AdvisoryLockKey); err != nil {
		t.Fatal(err)
	}
	m := newMigrator(t, db)
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := m.Up(c); err == nil {
		t.Fatal("Up succeeded while another session held the lock")
	}
	if n := pending(t, m); n == 0 {
		t.Fatal("Up changed the schema without the lock")
	}
	if _, err := holder.ExecContext(ctx(t), "SELECT pg_advisory_unlock($1)", migrator.AdvisoryLockKey); err != nil {
		t.Fatal(err)
	}
	mustUp(t, m)
	assertLockFree(t, db)
}
