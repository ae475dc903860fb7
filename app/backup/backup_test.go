package backup

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/migrator"
)

// TestOddFileNames backs up to and restores from paths that SQLite's URI
// syntax would misread if they were not escaped: spaces, ?, #, % and a name
// starting with "file:".
func TestOddFileNames(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "a dir with spaces & 100%")
	src := filepath.Join(dir, "todo.db")
	db, err := database.Open(database.Options{URL: "sqlite://" + src, MaxOpenConns: 2, MaxIdleConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrator.New(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write.ExecContext(ctx, `INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
		VALUES ('u1', 'U', 'u@example.com', 0, '2026-12-02T17:19:08.220Z', '2026-12-02T17:19:08.220Z')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"what?.db", "#1 backup.db", "50%25.db", "file:looks-like-a-uri.db"} {
		out := filepath.Join(dir, name)
		sum, err := Backup(ctx, src, out, false)
		if err != nil {
			t.Fatalf("backup to %q: %v", name, err)
		}
		if sum.Users != 1 || sum.Tasks != 0 || sum.Path != out || sum.Pending != 0 || len(sum.Unknown) != 0 {
			t.Errorf("backup to %q: %+v", name, sum)
		}
		if _, err := os.Stat(out); err != nil {
			t.Errorf("backup to %q: %v", name, err)
		}
		target := filepath.Join(dir, "restored "+name)
		if _, err := Restore(ctx, out, target); err != nil {
			t.Fatalf("restore from %q: %v", name, err)
		}
		if _, err := Verify(ctx, target); err != nil {
			t.Errorf("restored %q: %v", name, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") || strings.Contains(e.Name(), "?mode") {
			t.Errorf("stray file %q", e.Name())
		}
	}
}

// TestInUse sees a connection another part of the process holds, and
// nothing once it is closed.
func TestInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "todo.db")
	if busy, err := InUse(ctx, path); err != nil || busy {
		t.Fatalf("missing file: %v, %v", busy, err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE x (a)"); err != nil {
		t.Fatal(err)
	}
	if busy, err := InUse(ctx, path); err != nil || !busy {
		t.Errorf("with an open connection: %v, %v; want true", busy, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if busy, err := InUse(ctx, path); err != nil || busy {
		t.Errorf("after close: %v, %v; want false", busy, err)
	}
}
