package cli

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/todo-app/todo/migrations"
)

// embeddedMigrations lists the migrations the binary carries, oldest first,
// so tests need no update when one is added.
func embeddedMigrations(t *testing.T) []string {
	t.Helper()
	files, err := fs.Glob(migrations.SQLite(), "*.up.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v %v", files, err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(strings.TrimSuffix(f, ".up.sql"), ".tx")
	}
	return names
}
