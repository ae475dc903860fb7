package migrations

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var fileRE = regexp.MustCompile(`^(\d{14}_[0-9a-z_]+)\.tx\.(up|down)\.sql$`)

// migrationNames lists the migrations in f and fails unless every one has a
// transactional up and down file and nothing else is there.
func migrationNames(t *testing.T, f fs.FS) []string {
	t.Helper()
	entries, err := fs.ReadDir(f, ".")
	if err != nil {
		t.Fatal(err)
	}
	halves := map[string][]string{}
	for _, e := range entries {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("%s: not <14-digit timestamp>_<name>.tx.(up|down).sql", e.Name())
			continue
		}
		body, err := fs.ReadFile(f, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(body)) == "" {
			t.Errorf("%s is empty", e.Name())
		}
		halves[m[1]] = append(halves[m[1]], m[2])
	}
	var names []string
	for name, h := range halves {
		slices.Sort(h)
		if !slices.Equal(h, []string{"down", "up"}) {
			t.Errorf("%s has %v, want both up and down", name, h)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Both engines must have the same migrations, or a database could not be
// moved between them and status output would differ by engine.
func TestDialectsHaveTheSameMigrations(t *testing.T) {
	lite, pg := migrationNames(t, SQLite()), migrationNames(t, Postgres())
	if len(lite) == 0 {
		t.Fatal("no migrations embedded")
	}
	if !slices.Equal(lite, pg) {
		t.Fatalf("sqlite has %v, postgres has %v", lite, pg)
	}
}
