package database

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // pure-Go driver keeps CGO_ENABLED=0 builds possible
)

// sqlitePragmas apply to every connection. WAL lets readers run beside the
// writer; synchronous=NORMAL in WAL mode keeps every committed transaction
// across a process crash and may lose only the last ones on power loss; the
// busy timeout covers other processes (the CLI) holding the lock.
// temp_store=MEMORY keeps statement journals (every savepoint of a group
// commit writes one) and sort buffers off the disk: with it on a file, the
// savepoints' journal writes were a fifth of the cost of a create.
// mmap_size lets every connection read the first 256 MiB of the file
// through one shared mapping of the operating system's cache instead of a
// read() and a copy into each connection's own small page cache: the stats
// of a user with 10,000 tasks took half the time (BenchmarkTaskStats).
var sqlitePragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"synchronous(NORMAL)",
	"foreign_keys(1)",
	"temp_store(MEMORY)",
	"mmap_size(268435456)",
}

// writerAutoCheckpoint sets the writer connection's automatic checkpoint
// threshold to 8,000 pages, 8 times SQLite's default: the group commit
// checkpoints when the writer is idle (groupcommit.go), and this bounds the
// WAL (about 32 MiB) only for a writer that never is.
const writerAutoCheckpoint = "wal_autocheckpoint(8000)"

func openSQLite(path string, opts Options) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory %s: %w", dir, err)
		}
	}

	// The file holds password hashes and sessions: create it readable by the
	// server's user only. SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_ = f.Close()
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("create database file %s: %w", path, err)
	}

	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// fails halfway when it upgrades from reading to writing.
	write, err := sql.Open("sqlite", sqliteDSN(path, "immediate", writerAutoCheckpoint))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)

	read, err := sql.Open("sqlite", sqliteDSN(path, "deferred", "query_only(1)"))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(max(opts.MaxOpenConns, 1))
	read.SetMaxIdleConns(max(opts.MaxIdleConns, 1))
	read.SetConnMaxLifetime(0)

	writer := bun.NewDB(write, sqlitedialect.New())
	return &DB{
		Dialect: SQLite,
		Write:   writer,
		Read:    bun.NewDB(read, sqlitedialect.New()),
		Path:    path,
		group:   newGroupCommit(writer),

		readStmts:  &statements{},
		writeStmts: &statements{},
	}, nil
}

// sqliteDSN opens path with sqlitePragmas, then the connection's own.
func sqliteDSN(path, txlock string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	return path + "?" + q.Encode()
}
