// Package migrator applies and rolls back the embedded schema migrations
// (package migrations) on the server's database with
// github.com/uptrace/bun/migrate.
//
// Two things differ from calling bun's Migrate and Rollback directly:
//
//   - Each migration's bookkeeping row in schema_migrations is written inside
//     the migration's own transaction, so a crash can never leave a migration
//     applied but unrecorded (or recorded but not applied), and a migration
//     that another process applied in the meantime is skipped rather than run
//     twice.
//   - Instances sharing one PostgreSQL database are serialised with a session
//     advisory lock instead of bun's lock table: PostgreSQL releases the lock
//     when the holder's connection ends, so a crashed instance never leaves a
//     stale lock that blocks every later start.
package migrator

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/migrations"
)

const (
	// TableName is bun's migrations table: one row per applied migration.
	TableName = "schema_migrations"
	// LocksTableName is bun's lock table. It is created so the schema is
	// what bun expects, but never used: see the package comment.
	LocksTableName = "schema_migration_locks"
	// AdvisoryLockKey is the pg_advisory_lock key every todo instance holds
	// while it changes the schema ("todomigr" in ASCII). It is fixed so that
	// different builds of todo exclude each other too.
	AdvisoryLockKey int64 = 0x746f646f6d696772

	nameIndex = TableName + "_name_unique"
)

// Status describes one migration this binary knows.
type Status struct {
	// Name is the file name stem, e.g. "20261125000001_better_auth".
	Name      string
	Applied   bool
	AppliedAt time.Time
	// Group numbers the Up call that applied the migration (1, 2, ...); zero
	// when not applied.
	Group int64
}

// UnknownMigrationError reports a migration recorded as applied that this
// binary does not have: a newer todo has migrated the database, and running
// an older one against it could damage data.
type UnknownMigrationError struct {
	// Name is the migration's timestamp as recorded in schema_migrations.
	Name string
}

func (e *UnknownMigrationError) Error() string {
	return fmt.Sprintf("database has migration %s that this binary does not know; upgrade todo", e.Name)
}

// Migrator runs the embedded migrations of one database's engine.
type Migrator struct {
	db    *database.DB
	known *migrate.Migrations
	bun   *migrate.Migrator
	// mu serialises Up and Down within the process; across processes the
	// advisory lock (PostgreSQL) and the in-transaction bookkeeping (both
	// engines) take over.
	mu sync.Mutex
}

type direction int

const (
	up direction = iota + 1
	down
)

type directionKey struct{}

var (
	// errAlreadyApplied and errNotApplied abort a migration's transaction when
	// another process got there first; they never leave this package.
	errAlreadyApplied = errors.New("already applied")
	errNotApplied     = errors.New("not applied")
)

// New prepares a Migrator for db's engine. It reads only the embedded files;
// the database is not touched until a method is called.
func New(db *database.DB) (*Migrator, error) {
	var files fs.FS
	switch db.Dialect {
	case database.SQLite:
		files = migrations.SQLite()
	case database.Postgres:
		files = migrations.Postgres()
	default:
		return nil, fmt.Errorf("migrations: unsupported database dialect %q", db.Dialect)
	}
	known := migrate.NewMigrations()
	if err := known.Discover(files); err != nil {
		return nil, fmt.Errorf("read embedded %s migrations: %w", db.Dialect, err)
	}
	sorted := known.Sorted()
	if len(sorted) == 0 {
		return nil, fmt.Errorf("no embedded %s migrations", db.Dialect)
	}
	for _, mig := range sorted {
		// A half-packaged migration would fail only on the day someone
		// needs to roll back; refuse it at start instead.
		if mig.Up == nil || mig.Down == nil {
			return nil, fmt.Errorf("embedded migration %s lacks its up or down file", mig.String())
		}
	}
	m := &Migrator{db: db, known: known}
	m.bun = migrate.NewMigrator(db.Write, known,
		migrate.WithTableName(TableName),
		migrate.WithLocksTableName(LocksTableName),
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.BeforeMigration(m.record),
	)
	return m, nil
}

// Up applies every pending migration, oldest first, each in its own
// transaction, and returns the names of those it applied (none when the
// schema is current). It stops at the first failure; the migrations before it
// stay applied.
func (m *Migrator) Up(ctx context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	var done []string
	err := m.exclusive(ctx, func() error {
		if err := m.init(ctx); err != nil {
			return err
		}
		applied, err := m.applied(ctx)
		if err != nil {
			return err
		}
		if err := m.checkKnown(applied); err != nil {
			return err
		}
		group := applied.LastGroupID() + 1
		ctx := context.WithValue(ctx, directionKey{}, up)
		for _, mig := range m.known.Sorted() {
			if _, ok := applied[mig.Name]; ok {
				continue
			}
			mig.GroupID = group
			mig.MigratedAt = time.Now().UTC()
			err := mig.Up(ctx, m.bun, &mig)
			if errors.Is(err, errAlreadyApplied) {
				continue
			}
			if err != nil {
				return fmt.Errorf("apply migration %s: %w", mig.String(), err)
			}
			done = append(done, mig.String())
		}
		return nil
	})
	return done, err
}

// Down rolls back the n most recent applied migrations one at a time, newest
// first, and returns their names. Asking for more than are applied is an
// error and changes nothing.
func (m *Migrator) Down(ctx context.Context, n int) ([]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("roll back %d migrations: the count must be at least 1", n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	var done []string
	err := m.exclusive(ctx, func() error {
		applied, err := m.applied(ctx)
		if err != nil {
			return err
		}
		if err := m.checkKnown(applied); err != nil {
			return err
		}
		if n > len(applied) {
			return fmt.Errorf("roll back %d migrations: only %d applied", n, len(applied))
		}
		ctx := context.WithValue(ctx, directionKey{}, down)
		newest := m.known.Sorted()
		sort.SliceStable(newest, func(i, j int) bool { return newest[i].Name > newest[j].Name })
		for _, mig := range newest {
			if len(done) == n {
				break
			}
			rec, ok := applied[mig.Name]
			if !ok {
				continue
			}
			mig.ID, mig.GroupID, mig.MigratedAt = rec.ID, rec.GroupID, rec.MigratedAt
			if err := mig.Down(ctx, m.bun, &mig); err != nil {
				if errors.Is(err, errNotApplied) {
					err = errors.New("another process rolled it back first")
				}
				return fmt.Errorf("roll back migration %s: %w", mig.String(), err)
			}
			done = append(done, mig.String())
		}
		return nil
	})
	return done, err
}

// Status reports every migration this binary knows, oldest first. It does not
// create the migration tables: on a fresh database everything is pending.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	applied, err := m.applied(ctx)
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, mig := range m.known.Sorted() {
		st := Status{Name: mig.String()}
		if rec, ok := applied[mig.Name]; ok {
			st.Applied, st.AppliedAt, st.Group = true, rec.MigratedAt, rec.GroupID
		}
		out = append(out, st)
	}
	return out, nil
}

// Pending counts the known migrations not yet applied.
func (m *Migrator) Pending(ctx context.Context) (int, error) {
	st, err := m.Status(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range st {
		if !s.Applied {
			n++
		}
	}
	return n, nil
}

// record keeps schema_migrations in step with the schema. bun calls it inside
// the migration's transaction before the migration's statements, so the row
// and the change commit or roll back together. Claiming the row first also
// makes a second process wait on it (or find it) instead of repeating DDL.
func (m *Migrator) record(ctx context.Context, conn bun.IConn, mig *migrate.Migration) error {
	tx, ok := conn.(bun.IDB)
	if !ok {
		return fmt.Errorf("migration %s does not run in a transaction", mig.String())
	}
	switch ctx.Value(directionKey{}) {
	case up:
		n, err := tx.NewSelect().TableExpr(TableName).Where("name = ?", mig.Name).Count(ctx)
		if err != nil {
			return fmt.Errorf("check %s: %w", TableName, err)
		}
		if n > 0 {
			return errAlreadyApplied
		}
		if _, err := tx.NewInsert().Model(mig).ModelTableExpr(TableName).Exec(ctx); err != nil {
			return fmt.Errorf("record in %s: %w", TableName, err)
		}
		return nil
	case down:
		res, err := tx.NewDelete().TableExpr(TableName).Where("name = ?", mig.Name).Exec(ctx)
		if err != nil {
			return fmt.Errorf("remove from %s: %w", TableName, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errNotApplied
		}
		return nil
	default:
		return errors.New("migrations run only through Migrator.Up and Migrator.Down")
	}
}

// init creates bun's tables and a unique index on the migration name, which
// is the last line of defence against two processes recording one migration.
func (m *Migrator) init(ctx context.Context) error {
	if err := m.bun.Init(ctx); err != nil {
		return fmt.Errorf("create %s: %w", TableName, err)
	}
	if _, err := m.db.Write.ExecContext(ctx,
		"CREATE UNIQUE INDEX IF NOT EXISTS "+nameIndex+" ON "+TableName+" (name)"); err != nil {
		return fmt.Errorf("create index %s: %w", nameIndex, err)
	}
	return nil
}

// appliedSet maps a migration's recorded name (its timestamp) to its row.
type appliedSet map[string]migrate.Migration

func (a appliedSet) LastGroupID() int64 {
	var g int64
	for _, mig := range a {
		g = max(g, mig.GroupID)
	}
	return g
}

// applied reads schema_migrations, treating a missing table as empty so that
// read-only commands never create tables.
func (m *Migrator) applied(ctx context.Context) (appliedSet, error) {
	exists, err := m.tableExists(ctx)
	if err != nil {
		return nil, fmt.Errorf("look for %s: %w", TableName, err)
	}
	out := appliedSet{}
	if !exists {
		return out, nil
	}
	rows, err := m.bun.AppliedMigrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", TableName, err)
	}
	for _, r := range rows {
		out[r.Name] = r
	}
	return out, nil
}

func (m *Migrator) tableExists(ctx context.Context) (bool, error) {
	var n int
	var err error
	if m.db.Dialect == database.Postgres {
		err = m.db.Write.QueryRowContext(ctx,
			"SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ?",
			TableName).Scan(&n)
	} else {
		err = m.db.Write.QueryRowContext(ctx,
			"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", TableName).Scan(&n)
	}
	return n > 0, err
}

func (m *Migrator) checkKnown(applied appliedSet) error {
	known := map[string]bool{}
	for _, mig := range m.known.Sorted() {
		known[mig.Name] = true
	}
	var unknown []string
	for name := range applied {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return &UnknownMigrationError{Name: unknown[len(unknown)-1]}
}

// lockPoll bounds the wait between attempts to take the advisory lock.
// Polling pg_try_advisory_lock rather than blocking in pg_advisory_lock keeps
// every round trip short, so the driver's read timeout cannot fire while
// another instance runs a long migration, and ctx cancels the wait promptly.
const lockPoll = 500 * time.Millisecond

// exclusive runs fn while holding the PostgreSQL advisory lock on a
// connection of its own. SQLite needs no lock: its single write connection
// and BEGIN IMMEDIATE transactions already serialise writers, and record
// skips work another process finished.
func (m *Migrator) exclusive(ctx context.Context, fn func() error) (err error) {
	if m.db.Dialect != database.Postgres {
		return fn()
	}
	if m.db.Write.DB.Stats().MaxOpenConnections == 1 {
		// The lock's connection would be the pool's only one, and the
		// migrations' transactions would wait for it forever.
		return errors.New("migrations on PostgreSQL need a pool of at least 2 connections")
	}
	conn, err := m.db.Write.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect for the migration lock: %w", err)
	}
	if err := tryLock(ctx, conn); err != nil {
		discard(conn)
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// Release even when ctx is already cancelled, or the lock would
		// outlive this call on a pooled connection.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var released bool
		uerr := conn.QueryRowContext(uctx, "SELECT pg_advisory_unlock($1)", AdvisoryLockKey).Scan(&released)
		if uerr != nil || !released {
			// Closing the session is what releases the lock now.
			discard(conn)
			return
		}
		_ = conn.Close()
	}()
	return fn()
}

func tryLock(ctx context.Context, conn *sql.Conn) error {
	delay := 50 * time.Millisecond
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", AdvisoryLockKey).Scan(&ok); err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("another instance is migrating: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, lockPoll)
	}
}

// discard closes conn's session instead of returning it to the pool, where it
// might still hold the advisory lock.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}
