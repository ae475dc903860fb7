// Package backup copies a SQLite database consistently while the server is
// writing to it, checks such copies, and puts one back in place.
//
// A copy is made with VACUUM INTO on a read-only connection of its own: SQLite
// writes one read transaction's snapshot of the database into a new file, so
// the copy holds every transaction committed before it started and nothing
// after, whatever the server commits meanwhile (WAL lets the server keep
// writing). Files are always written beside their destination under a .tmp
// name, synced, checked and then renamed, so a crash leaves either the old
// file or the complete new one, never a half-written one.
//
// PostgreSQL is backed up with its own tools (pg_dump, pg_restore); this
// package only says how.
package backup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/uptrace/bun/migrate"
	_ "modernc.org/sqlite" // the "sqlite" driver, as the server uses

	"github.com/todo-app/todo/migrations"
)

// busyTimeout is how long a connection of this package waits for a lock the
// server holds (the moment of a checkpoint, say) before giving up.
const busyTimeout = "busy_timeout(10000)"

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// Summary describes a verified copy.
type Summary struct {
	// Path is the file described.
	Path string
	// Size is its size in bytes.
	Size int64
	// Users and Tasks count the rows of the user and task tables.
	Users, Tasks int64
	// Applied lists the migrations recorded in the copy's schema_migrations,
	// oldest first, by their recorded names (timestamps).
	Applied []string
	// Schema names the newest applied migration the way `todo migrate
	// status` does ("20261125000002_tasks"), or by its timestamp alone when
	// this binary does not know it.
	Schema string
	// Pending counts the migrations this binary has that the copy lacks;
	// `todo serve` (or `todo migrate up`) applies them.
	Pending int
	// Unknown lists applied migrations this binary does not have: the copy
	// comes from a newer todo, which this one must not run on.
	Unknown []string
}

// ErrExists is returned when the destination exists and overwriting was not
// asked for.
var ErrExists = errors.New("file exists")

// NotTodoDatabaseError says a file is not a todo SQLite database (or not a
// SQLite database at all).
type NotTodoDatabaseError struct {
	Path, Reason string
}

func (e *NotTodoDatabaseError) Error() string {
	return fmt.Sprintf("%s is not a todo database: %s", e.Path, e.Reason)
}

// IntegrityError reports a copy that SQLite's integrity or foreign key check
// rejects.
type IntegrityError struct {
	Path     string
	Problems []string
}

func (e *IntegrityError) Error() string {
	const show = 5
	p := e.Problems
	more := ""
	if len(p) > show {
		more = fmt.Sprintf(" (and %d more)", len(p)-show)
		p = p[:show]
	}
	return fmt.Sprintf("%s failed the integrity check: %s%s", e.Path, strings.Join(p, "; "), more)
}

// PostgresBackupCommand is the pg_dump command line that backs up the
// PostgreSQL database at dbURL into file. A password in the URL is masked
// (pg_dump also takes it from PGPASSWORD or ~/.pgpass).
func PostgresBackupCommand(dbURL, file string) string {
	return fmt.Sprintf(`pg_dump --format=custom --file=%s "%s"`, shellQuote(file), redact(dbURL))
}

// PostgresRestoreCommand is the pg_restore command line that loads a
// pg_dump --format=custom file into the PostgreSQL database at dbURL, with
// the URL's password masked.
func PostgresRestoreCommand(dbURL, file string) string {
	return fmt.Sprintf(`pg_restore --clean --if-exists --no-owner --dbname="%s" %s`, redact(dbURL), shellQuote(file))
}

// redact masks the password of a database URL, so that a command printed on
// a terminal or in a log does not carry it.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "$DATABASE_URL"
	}
	return u.Redacted()
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@+=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Backup writes a consistent copy of the SQLite database at src to dst and
// verifies it. The server may be writing to src all along. dst must not
// exist unless force is set; it is written as dst+".tmp", synced, checked
// and renamed into place, with mode 0600 (it holds password hashes and
// session tokens).
func Backup(ctx context.Context, src, dst string, force bool) (*Summary, error) {
	st, err := os.Stat(src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no SQLite database at %s", src)
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", src)
	}
	if err := checkDestination(src, dst, force); err != nil {
		return nil, err
	}

	tmp := dst + ".tmp"
	// VACUUM INTO needs a missing or empty file. Creating it exclusively
	// makes it 0600 from the start and keeps two backups to one destination
	// from writing into each other.
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) && force {
		if err = os.Remove(tmp); err == nil {
			f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists: another backup is writing it, or an interrupted one left it behind; remove it or pass --force", tmp)
	}
	if err != nil {
		return nil, fmt.Errorf("write the backup: %w", err)
	}
	_ = f.Close()
	done := false
	defer func() {
		if !done {
			_ = os.Remove(tmp)
		}
	}()

	if err := vacuumInto(ctx, src, tmp); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	sum, err := Verify(ctx, tmp)
	if err != nil {
		return nil, fmt.Errorf("the copy of %s: %w", src, err)
	}
	// Checked again: the destination may have appeared while the copy ran.
	if err := checkDestination(src, dst, force); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, fmt.Errorf("move the copy into place: %w", err)
	}
	done = true
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return nil, err
	}
	sum.Path = dst
	return sum, nil
}

func checkDestination(src, dst string, force bool) error {
	st, err := os.Stat(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case st.IsDir():
		return fmt.Errorf("%s is a directory; name the backup file", dst)
	}
	if srcSt, err := os.Stat(src); err == nil && os.SameFile(srcSt, st) {
		return fmt.Errorf("%s is the database itself", dst)
	}
	if !force {
		return fmt.Errorf("%s: %w; pass --force to replace it", dst, ErrExists)
	}
	return nil
}

// vacuumInto copies src into the empty file dst in one read transaction.
func vacuumInto(ctx context.Context, src, dst string) error {
	// mode=ro: the backup never writes to the live database. WAL readers
	// do not block the server's writer, nor it them.
	db, err := sql.Open("sqlite", fileURI(src, "mode=ro")+"&_pragma="+busyTimeout)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// An absolute path: on a connection opened by URI, SQLite would read a
	// destination starting with "file:" as a URI too.
	abs, err := filepath.Abs(dst)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		return fmt.Errorf("copy %s: %w", src, describe(src, err))
	}
	return nil
}

// Verify checks the SQLite file at path as a todo database: SQLite's
// integrity and foreign key checks pass, it has todo's tables and its
// migrations are recorded. It opens the file read-only and immutable, so it
// creates no -wal or -shm file beside it; only use it on files no process is
// writing.
func Verify(ctx context.Context, path string) (*Summary, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkHeader(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", fileURI(path, "mode=ro&immutable=1"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	problems, err := integrityProblems(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", path, describe(path, err))
	}
	if len(problems) > 0 {
		return nil, &IntegrityError{Path: path, Problems: problems}
	}

	for _, table := range []string{"schema_migrations", "user", "task"} {
		var n int
		if err := db.QueryRowContext(ctx,
			"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil {
			return nil, fmt.Errorf("read the schema of %s: %w", path, describe(path, err))
		}
		if n == 0 {
			return nil, &NotTodoDatabaseError{Path: path, Reason: fmt.Sprintf("it has no %q table", table)}
		}
	}

	sum := &Summary{Path: path, Size: st.Size()}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "user"`).Scan(&sum.Users); err != nil {
		return nil, fmt.Errorf("count users in %s: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "task"`).Scan(&sum.Tasks); err != nil {
		return nil, fmt.Errorf("count tasks in %s: %w", path, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT name FROM schema_migrations ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("read the migrations of %s: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		sum.Applied = append(sum.Applied, name)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(sum.Applied) == 0 {
		return nil, &NotTodoDatabaseError{Path: path, Reason: "no migration is recorded in schema_migrations"}
	}
	known, err := knownMigrations()
	if err != nil {
		return nil, err
	}
	for _, name := range sum.Applied {
		if _, ok := known[name]; !ok {
			sum.Unknown = append(sum.Unknown, name)
		}
	}
	for name := range known {
		if !slices.Contains(sum.Applied, name) {
			sum.Pending++
		}
	}
	newest := sum.Applied[len(sum.Applied)-1]
	sum.Schema = newest
	if label, ok := known[newest]; ok {
		sum.Schema = label
	}
	return sum, nil
}

// knownMigrations maps the recorded names (timestamps) of the SQLite
// migrations embedded in this binary to their full names.
func knownMigrations() (map[string]string, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(migrations.SQLite()); err != nil {
		return nil, fmt.Errorf("read the embedded migrations: %w", err)
	}
	known := map[string]string{}
	for _, m := range ms.Sorted() {
		known[m.Name] = m.String()
	}
	return known, nil
}

func integrityProblems(ctx context.Context, db *sql.DB) ([]string, error) {
	var problems []string
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	fk, err := db.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return nil, err
	}
	defer fk.Close()
	for fk.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var idx int
		if err := fk.Scan(&table, &rowid, &parent, &idx); err != nil {
			return nil, err
		}
		problems = append(problems, fmt.Sprintf("row %d of %s refers to a missing %s", rowid.Int64, table, parent))
	}
	return problems, fk.Err()
}

// checkHeader fails with a clear message for a file that is not a SQLite
// database at all, before SQLite reports it less plainly.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteHeader) {
		return &NotTodoDatabaseError{Path: path, Reason: "it is not a SQLite database file"}
	}
	return nil
}

func describe(path string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "file is not a database") || strings.Contains(msg, "SQLITE_NOTADB") {
		return &NotTodoDatabaseError{Path: path, Reason: "it is not a SQLite database file"}
	}
	return err
}

// Restore puts a copy of the SQLite database backup at input in place of
// the database at target. Nothing may be using target: stop the server
// first (InUse catches the common case, not every one). The copy is written
// to target+".tmp", synced and verified; then the target's -wal, -shm and
// -journal files, which belong to the database being replaced and would
// corrupt the restored one, are removed, and the copy is renamed over
// target. A crash at any point leaves either the old database or the
// restored one.
func Restore(ctx context.Context, input, target string) (*Summary, error) {
	in, err := os.Stat(input)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no backup at %s", input)
	case err != nil:
		return nil, err
	case !in.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", input)
	}
	if st, err := os.Stat(target); err == nil && os.SameFile(in, st) {
		return nil, fmt.Errorf("%s is the database itself", input)
	}
	if st, err := os.Stat(input + "-wal"); err == nil && st.Size() > 0 {
		return nil, fmt.Errorf("%s-wal exists: %s is a live database whose latest changes are not in the file itself; copy it with `todo backup` and restore that copy", input, input)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return nil, err
	}
	busy, err := InUse(ctx, target)
	if err != nil {
		return nil, err
	}
	if busy {
		return nil, fmt.Errorf("%s is in use by another process (is todo serve running?); stop the server first", target)
	}

	tmp := target + ".tmp"
	// A leftover is an interrupted restore's: nothing else writes this name.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			_ = os.Remove(tmp)
		}
	}()
	if err := copyFile(input, tmp); err != nil {
		return nil, err
	}
	sum, err := Verify(ctx, tmp)
	if err != nil {
		var nt *NotTodoDatabaseError
		var ie *IntegrityError
		switch {
		case errors.As(err, &nt):
			nt.Path = input
		case errors.As(err, &ie):
			ie.Path = input
		}
		return nil, err
	}
	if len(sum.Unknown) > 0 {
		return nil, fmt.Errorf("%s was written by a newer todo: it has migration %s, which this binary does not know; restore it with that version or a later one",
			input, sum.Unknown[len(sum.Unknown)-1])
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(target + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove the replaced database's %s file: %w", suffix, err)
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		return nil, fmt.Errorf("move the restored database into place: %w", err)
	}
	done = true
	if err := syncDir(filepath.Dir(target)); err != nil {
		return nil, err
	}
	sum.Path = target
	return sum, nil
}

// InUse reports whether another connection, in this process or another, has
// the SQLite database at path open, by trying to lock it exclusively without
// waiting. An idle `todo serve` keeps its connections open, so it is found;
// a process that opens the file later, or one on another machine sharing a
// network file system, is not. A missing file is not in use.
func InUse(ctx context.Context, path string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := checkHeader(path); err != nil {
		// Not a database (an empty file, say): nothing can be using it as one.
		return false, nil
	}
	db, err := sql.Open("sqlite", fileURI(path, "mode=rw")+"&_pragma=busy_timeout(0)")
	if err != nil {
		return false, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return isBusy(err), nil
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA locking_mode = EXCLUSIVE"); err != nil {
		return isBusy(err), nil
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		if isBusy(err) {
			return true, nil
		}
		return false, nil
	}
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	return false, err
}

func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// fileURI is a SQLite URI for path with the given query, so that SQLite
// applies its own parameters (mode, immutable) and never creates the file.
func fileURI(path, query string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x on Windows
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: query}
	return u.String()
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dst, err)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// syncDir makes a rename in dir durable. Windows cannot open a directory
// for syncing, and makes renames durable by itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
