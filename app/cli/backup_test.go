package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/todo-app/todo/app/server/servertest"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/app/backup"
	"github.com/todo-app/todo/app/config"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
)

// apiClient calls a running server's API with a Bearer token.
type apiClient struct{ *servertest.BearerClient }

// do sends the request and decodes a JSON object answer.
func (c *apiClient) do(method, path string, body any) (int, map[string]any, error) {
	status, raw, err := c.Do(context.Background(), method, path, body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return status, nil, fmt.Errorf("%s %s: %d %q: %w", method, path, status, raw, err)
		}
	}
	return status, out, nil
}

// signUp makes an account on the server at base and returns a client
// signed in as it.
func signUp(t *testing.T, base, email string) *apiClient {
	t.Helper()
	c := &apiClient{servertest.NewBearerClient(base, "")}
	status, body, err := c.do("POST", "/api/auth/signup",
		map[string]string{"name": "Backup Tester", "email": email, "password": "correct horse battery"})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("signup: %d %v %v", status, body, err)
	}
	c.Token, _ = body["token"].(string)
	return c
}

func (c *apiClient) createTask(t *testing.T, title string) int64 {
	t.Helper()
	status, body, err := c.do("POST", "/api/tasks", map[string]any{"title": title})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create %q: %d %v %v", title, status, body, err)
	}
	return int64(body["id"].(float64))
}

// titles lists the titles of the client's tasks by id.
func (c *apiClient) titles(t *testing.T) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	for offset := 0; ; offset += 200 {
		status, body, err := c.do("GET", fmt.Sprintf("/api/tasks?limit=200&offset=%d", offset), nil)
		if err != nil || status != http.StatusOK {
			t.Fatalf("list tasks: %d %v %v", status, body, err)
		}
		tasks, _ := body["tasks"].([]any)
		for _, x := range tasks {
			task := x.(map[string]any)
			out[int64(task["id"].(float64))] = task["title"].(string)
		}
		if len(tasks) < 200 {
			return out
		}
	}
}

// backupTestConfig is testConfig for a SQLite database with the rate limit
// off (the writers below exceed it) and cheap password hashing.
func backupTestConfig(t *testing.T, url string) *config.Config {
	t.Helper()
	cfg := testConfig(t, url)
	cfg.RateLimit.Enabled = false
	cfg.Auth.BcryptCost = 4
	return cfg
}

// readTitles opens a backup read-only and returns its task titles by id.
func readTitles(t *testing.T, path string) map[int64]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id, title FROM task")
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var title string
		if err := rows.Scan(&id, &title); err != nil {
			t.Fatal(err)
		}
		out[id] = title
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sqlitePathOf(t *testing.T, url string) string {
	t.Helper()
	_, path, err := database.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBackupWhileServing backs up a database while a client keeps writing
// to it through the API: each copy passes the integrity check and holds
// every task the server acknowledged before the backup started.
func TestBackupWhileServing(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t, database.SQLite)
	base, _ := startServe(t, backupTestConfig(t, url))
	client := signUp(t, base, "writer@example.com")

	var mu sync.Mutex
	acked := map[int64]string{}
	var writeErr error
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Two writers: one creating tasks, one renaming the ones already made,
	// so the backups run beside inserts and updates alike.
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			title := fmt.Sprintf("task %d", i)
			status, body, err := client.do("POST", "/api/tasks", map[string]any{"title": title, "description": strings.Repeat("d", i%300)})
			mu.Lock()
			if err != nil || status != http.StatusCreated {
				writeErr = fmt.Errorf("create: %d %v %v", status, body, err)
				mu.Unlock()
				return
			}
			acked[int64(body["id"].(float64))] = title
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			mu.Lock()
			var id int64
			for k := range acked {
				id = k
				break
			}
			mu.Unlock()
			if id == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			title := fmt.Sprintf("renamed %d", i)
			status, body, err := client.do("PATCH", fmt.Sprintf("/api/tasks/%d", id), map[string]any{"title": title})
			mu.Lock()
			if err != nil || status != http.StatusOK {
				writeErr = fmt.Errorf("update: %d %v %v", status, body, err)
				mu.Unlock()
				return
			}
			// An update acknowledged after a create of the same task: the
			// newest acknowledged title is the one to look for.
			acked[id] = title
			mu.Unlock()
		}
	}()
	stopWriters := func() {
		cancel()
		wg.Wait()
		if writeErr != nil {
			t.Fatal(writeErr)
		}
	}
	defer stopWriters()

	snapshot := func(min int) map[int64]string {
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := len(acked)
			if n >= min || time.Now().After(deadline) {
				out := make(map[int64]string, n)
				for k, v := range acked {
					out[k] = v
				}
				mu.Unlock()
				return out
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}

	dir := t.TempDir()
	for round, min := range []int{20, 60, 120} {
		before := snapshot(min)
		out := filepath.Join(dir, fmt.Sprintf("backup-%d.db", round))
		stdout, _, err := run(t, "backup", "--output", out, "--database-url", url)
		if err != nil {
			t.Fatalf("backup %d: %v", round, err)
		}
		for _, want := range []string{"backed up ", "size:", "users:     1\n", "tasks:", "integrity: ok", newestSchema(t)} {
			if !strings.Contains(stdout, want) {
				t.Errorf("backup output lacks %q:\n%s", want, stdout)
			}
		}
		sum, err := backup.Verify(context.Background(), out)
		if err != nil {
			t.Fatalf("backup %d: %v", round, err)
		}
		if !strings.Contains(stdout, fmt.Sprintf("tasks:     %d\n", sum.Tasks)) {
			t.Errorf("printed task count differs from the copy's %d:\n%s", sum.Tasks, stdout)
		}
		got := readTitles(t, out)
		for id, title := range before {
			have, ok := got[id]
			if !ok {
				t.Fatalf("backup %d lacks task %d (%q), acknowledged before the backup started", round, id, title)
			}
			// The task may have been renamed again after the snapshot; any
			// title it had since is acceptable, but never a torn one.
			if !strings.HasPrefix(have, "task ") && !strings.HasPrefix(have, "renamed ") {
				t.Errorf("task %d in the backup has title %q", id, have)
			}
		}
		if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("backup file mode: %v, %v; want 0600", st.Mode().Perm(), err)
		}
		if _, err := os.Stat(out + ".tmp"); !os.IsNotExist(err) {
			t.Errorf("%s.tmp left behind: %v", out, err)
		}
		t.Logf("backup %d: %d tasks acknowledged before it, %d in the copy", round, len(before), sum.Tasks)
	}
	stopWriters()

	// Once the writers are done, a backup holds exactly what the API shows.
	final := filepath.Join(dir, "final.db")
	if _, _, err := run(t, "backup", "--output", final, "--database-url", url); err != nil {
		t.Fatal(err)
	}
	want := client.titles(t)
	got := readTitles(t, final)
	if len(got) != len(want) {
		t.Fatalf("final backup has %d tasks, the API %d", len(got), len(want))
	}
	for id, title := range want {
		if got[id] != title {
			t.Errorf("task %d: backup %q, API %q", id, got[id], title)
		}
	}
}

// TestRestoreRoundTrip backs up, changes the database, restores the backup
// and finds the server serving exactly the backed-up state again.
func TestRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t, database.SQLite)
	path := sqlitePathOf(t, url)
	base, stop := startServe(t, backupTestConfig(t, url))
	client := signUp(t, base, "restore@example.com")
	for i := range 5 {
		client.createTask(t, fmt.Sprintf("before backup %d", i))
	}
	saved := client.titles(t)

	out := filepath.Join(t.TempDir(), "backup.db")
	if _, _, err := run(t, "backup", "-o", out, "--database-url", url); err != nil {
		t.Fatal(err)
	}

	// Changes after the backup, which the restore must undo.
	for i := range 3 {
		client.createTask(t, fmt.Sprintf("after backup %d", i))
	}
	var firstID int64
	for id := range saved {
		if firstID == 0 || id < firstID {
			firstID = id
		}
	}
	if status, _, err := client.do("DELETE", fmt.Sprintf("/api/tasks/%d", firstID), nil); err != nil || status != http.StatusNoContent {
		t.Fatalf("delete: %d %v", status, err)
	}
	later := signUp(t, base, "later@example.com")

	// While the server has the database open, restore refuses.
	_, _, err := run(t, "restore", "--input", out, "--yes", "--database-url", url)
	if err == nil || !strings.Contains(err.Error(), "stop the server first") {
		t.Fatalf("restore under a running server: %v, want a refusal", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Files a crashed server might have left: they belong to the database
	// being replaced and must not be applied to the restored one.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.WriteFile(path+suffix, []byte("stale "+suffix), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stdout, _, err := run(t, "restore", "--input", out, "--yes", "--database-url", url)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	for _, want := range []string{"restored " + out + " to " + path, "users:     1\n", "tasks:     5\n", "integrity: ok"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("restore output lacks %q:\n%s", want, stdout)
		}
	}
	for _, suffix := range []string{"-wal", "-shm", ".tmp"} {
		if _, err := os.Stat(path + suffix); !os.IsNotExist(err) {
			t.Errorf("%s%s exists after the restore: %v", path, suffix, err)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("restored database mode: %v, %v; want 0600", st.Mode().Perm(), err)
	}

	// The server comes back with the backed-up state, and the session made
	// before the backup still works (todo.secret stayed next to the file).
	base, _ = startServe(t, backupTestConfig(t, url))
	client.Base = base
	got := client.titles(t)
	if len(got) != len(saved) {
		t.Fatalf("after restore: %d tasks %v, want %v", len(got), got, saved)
	}
	for id, title := range saved {
		if got[id] != title {
			t.Errorf("task %d: %q after restore, want %q", id, got[id], title)
		}
	}
	later.Base = base
	if status, _, _ := later.do("GET", "/api/tasks", nil); status != http.StatusUnauthorized {
		t.Errorf("a session made after the backup: %d, want 401", status)
	}
	// New tasks get new ids: AUTOINCREMENT's counter came back with the rows.
	if id := client.createTask(t, "after restore"); saved[id] != "" {
		t.Errorf("new task reused id %d", id)
	}
	db := dbtest.OpenURL(t, url)
	var ic string
	if err := db.Read.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Errorf("integrity_check after restore: %q, %v", ic, err)
	}
}

// TestBackupRestoreRefusals covers every way backup and restore decline,
// and checks that none of them touches a file.
func TestBackupRestoreRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := dbtest.NewURL(t, database.SQLite)
	path := sqlitePathOf(t, url)
	if _, _, err := run(t, "migrate", "up", "--database-url", url); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.db")
	if _, _, err := run(t, "backup", "--output", good, "--database-url", url); err != nil {
		t.Fatal(err)
	}

	// Files the refusals must leave alone.
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("this is not a database, just some notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	execSQLite(t, foreign, "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO things (name) VALUES ('x')")
	newer := filepath.Join(dir, "newer.db")
	copyTestFile(t, good, newer)
	execSQLite(t, newer, "INSERT INTO schema_migrations (name, group_id) VALUES ('29991231000000', 9)")
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pgURL := "postgres://todo:hunter2@127.0.0.1:1/todo?sslmode=disable"

	fingerprint := func() string {
		var b strings.Builder
		for _, f := range []string{path, existing} {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s:%d:%x;", f, len(raw), raw[:min(len(raw), 64)])
		}
		// The restore target's row count, read behind the commands' back.
		b.WriteString(fmt.Sprint(len(readTitles(t, path))))
		return b.String()
	}
	before := fingerprint()

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"existing output", []string{"backup", "--output", existing, "--database-url", url},
			[]string{existing, "file exists", "--force"}},
		{"output is the database", []string{"backup", "--output", path, "--database-url", url, "--force"},
			[]string{"is the database itself"}},
		{"output is a directory", []string{"backup", "--output", dir, "--database-url", url},
			[]string{"is a directory"}},
		{"no output", []string{"backup", "--database-url", url}, []string{`"output" not set`}},
		{"missing database", []string{"backup", "--output", filepath.Join(dir, "x.db"), "--database-url", "sqlite://" + filepath.Join(dir, "missing.db")},
			[]string{"no SQLite database at"}},
		{"postgres backup", []string{"backup", "--output", "todo.dump", "--database-url", pgURL},
			[]string{"PostgreSQL", `pg_dump --format=custom --file=todo.dump "postgres://todo:xxxxx@127.0.0.1:1/todo?sslmode=disable"`}},
		{"postgres restore", []string{"restore", "--input", "todo.dump", "--yes", "--database-url", pgURL},
			[]string{"PostgreSQL", "pg_restore", "todo.dump"}},
		{"restore without --yes", []string{"restore", "--input", good, "--database-url", url},
			[]string{"--yes", "stop the server"}},
		{"restore a text file", []string{"restore", "--input", notDB, "--yes", "--database-url", url},
			[]string{notDB, "is not a todo database", "not a SQLite database file"}},
		{"restore an empty file", []string{"restore", "--input", empty, "--yes", "--database-url", url},
			[]string{"is not a todo database"}},
		{"restore another application's database", []string{"restore", "--input", foreign, "--yes", "--database-url", url},
			[]string{foreign, "is not a todo database", `no "schema_migrations" table`}},
		{"restore a newer todo's backup", []string{"restore", "--input", newer, "--yes", "--database-url", url},
			[]string{"newer todo", "29991231000000"}},
		{"restore a missing file", []string{"restore", "--input", filepath.Join(dir, "nope.db"), "--yes", "--database-url", url},
			[]string{"no backup at"}},
		{"restore the database onto itself", []string{"restore", "--input", path, "--yes", "--database-url", url},
			[]string{"is the database itself"}},
	}
	for _, tc := range cases {
		_, _, err := run(t, tc.args...)
		if err == nil {
			t.Errorf("%s: succeeded, want a refusal", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows the database password: %q", tc.name, err)
		}
	}
	if after := fingerprint(); after != before {
		t.Errorf("a refused command changed a file:\nbefore %s\nafter  %s", before, after)
	}
	for _, f := range []string{path + ".tmp", existing + ".tmp", filepath.Join(dir, "x.db")} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s exists after the refusals: %v", f, err)
		}
	}

	// --force replaces an existing output.
	if _, _, err := run(t, "backup", "--output", existing, "--force", "--database-url", url); err != nil {
		t.Fatalf("backup --force: %v", err)
	}
	if _, err := backup.Verify(context.Background(), existing); err != nil {
		t.Errorf("backup --force did not leave a good copy: %v", err)
	}
}

// execSQLite runs statements on a SQLite file, creating it if needed.
func execSQLite(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func copyTestFile(t *testing.T, src, dst string) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// newestSchema is how todo backup reports a fully migrated database.
func newestSchema(t *testing.T) string {
	all := embeddedMigrations(t)
	return fmt.Sprintf("schema:    %s (%d migrations)", all[len(all)-1], len(all))
}
