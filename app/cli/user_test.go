package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/todo-app/todo/app/auth"
	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/models"
)

// fastConfig keeps password hashing cheap: at the default cost every
// create-user and set-password would take most of a second under -race.
const fastConfig = "auth:\n  bcrypt_cost: 4\n"

// runIn is run with stdin and the given config file contents.
func runIn(t *testing.T, stdin, configYAML string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := NewRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	root.SetArgs(append(args, "--config", file))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// userCLI runs user commands against one database with fast hashing.
type userCLI struct {
	t   *testing.T
	url string
}

func (c userCLI) run(stdin string, args ...string) (string, error) {
	c.t.Helper()
	out, _, err := runIn(c.t, stdin, fastConfig, append(args, "--database-url", c.url)...)
	return out, err
}

func (c userCLI) mustRun(stdin string, args ...string) string {
	c.t.Helper()
	out, err := c.run(stdin, args...)
	if err != nil {
		c.t.Fatalf("%v: %v", args, err)
	}
	return out
}

func (c userCLI) wantErr(stdin, want string, args ...string) {
	c.t.Helper()
	if _, err := c.run(stdin, args...); err == nil || !strings.Contains(err.Error(), want) {
		c.t.Fatalf("%v: error %v, want one containing %q", args, err, want)
	}
}

func (c userCLI) createUser(email, name, password string) string {
	c.t.Helper()
	return c.mustRun(password+"\n", "create-user", "--email", email, "--name", name, "--password-stdin")
}

func countRows(t *testing.T, db *database.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestCreateUserAndList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		c := userCLI{t: t, url: url}

		// A fresh database: auto_migrate (the default) brings the schema up.
		if out := c.mustRun("", "user", "list"); strings.TrimSpace(out) != "no users" {
			t.Fatalf("empty list: %q", out)
		}
		if out := c.mustRun("", "user", "list", "--json"); strings.TrimSpace(out) != "[]" {
			t.Fatalf("empty list --json: %q", out)
		}

		// Closed sign-up closes only the HTTP route.
		out, _, err := runIn(t, "correct horse battery\r\nignored second line\n", fastConfig+"  signup_enabled: false\n",
			"create-user", "--email", "Ada@Example.com", "--name", "Ada Lovelace", "--password-stdin", "--database-url", url)
		if err != nil || !strings.HasPrefix(out, "created user ada@example.com (id ") {
			t.Fatalf("create-user: %q, %v", out, err)
		}
		c.createUser("bob@example.com", "Bob", strings.Repeat("b", 100))

		out = c.mustRun("", "user", "list")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") ||
			!strings.Contains(lines[0], "EMAIL") || !strings.Contains(lines[0], "VERIFIED") || !strings.Contains(lines[0], "CREATED") {
			t.Fatalf("user list:\n%s", out)
		}
		for i, want := range []string{"ada@example.com", "bob@example.com"} {
			if !strings.Contains(lines[i+1], want) || !strings.Contains(lines[i+1], " no ") || !strings.HasSuffix(lines[i+1], "Z") {
				t.Errorf("row %d lacks %s: %q", i+1, want, lines[i+1])
			}
		}

		var users []map[string]any
		out = c.mustRun("", "user", "list", "--json")
		if err := json.Unmarshal([]byte(out), &users); err != nil || len(users) != 2 {
			t.Fatalf("user list --json: %q, %v", out, err)
		}
		ada := users[0]
		if ada["email"] != "ada@example.com" || ada["name"] != "Ada Lovelace" || ada["email_verified"] != false || ada["id"] == "" {
			t.Errorf("first user: %v", ada)
		}
		created, _ := ada["created_at"].(string)
		if _, err := time.Parse(models.TimeLayout, created); err != nil || len(ada) != 5 {
			t.Errorf("user object %v: created_at %q (%v), want exactly id, name, email, email_verified, created_at", ada, created, err)
		}

		// Only the first stdin line is the password, without its \r\n.
		db := dbtest.OpenURL(t, url)
		_, hash, err := models.NewStore(db).UserByEmail(context.Background(), "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		hasher := auth.NewHasher(auth.HasherOptions{})
		if ok, err := hasher.Verify(context.Background(), hash, "correct horse battery"); !ok || err != nil {
			t.Errorf("stored hash does not verify the first line: %v, %v", ok, err)
		}
		// The 100-byte password must not have been cut at bcrypt's 72.
		_, hash, _ = models.NewStore(db).UserByEmail(context.Background(), "bob@example.com")
		if ok, _ := hasher.Verify(context.Background(), hash, strings.Repeat("b", 72)); ok {
			t.Error("a 100-byte password verifies with only its first 72 bytes")
		}
		if ok, _ := hasher.Verify(context.Background(), hash, strings.Repeat("b", 100)); !ok {
			t.Error("the 100-byte password does not verify")
		}
	})
}

func TestCreateUserRejects(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		c := userCLI{t: t, url: url}
		c.createUser("ada@example.com", "Ada", "correct horse battery")

		create := func(email, name string) []string {
			return []string{"create-user", "--email", email, "--name", name, "--password-stdin"}
		}
		cases := []struct {
			name, stdin, want string
			args              []string
		}{
			{"duplicate", "another password\n", "a user with email ada@example.com already exists", create("ada@example.com", "Ada")},
			{"duplicate in other case", "another password\n", "a user with email ada@example.com already exists", create("ADA@Example.COM", "Ada")},
			{"short password", "short\n", "password: must be at least 8 characters", create("b@example.com", "B")},
			{"long password", strings.Repeat("p", 129) + "\n", "password: must be at most 128 characters", create("b@example.com", "B")},
			{"invalid email", "long enough password\n", "email: is not a valid email address", create("not-an-email", "B")},
			{"empty name", "long enough password\n", "name: is required", create("b@example.com", "")},
			{"empty stdin", "", "password on stdin is empty", create("b@example.com", "B")},
			{"empty first line", "\nlong enough password\n", "password on stdin is empty", create("b@example.com", "B")},
			{"no terminal", "long enough password\n", "--password-stdin", []string{"create-user", "--email", "b@example.com", "--name", "B"}},
			{"missing email", "long enough password\n", `"email" not set`, []string{"create-user", "--name", "B", "--password-stdin"}},
			{"arguments", "long enough password\n", "unknown command", append(create("b@example.com", "B"), "extra")},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := userCLI{t: t, url: url}
				c.wantErr(tc.stdin, tc.want, tc.args...)
			})
		}
		var users []map[string]any
		if err := json.Unmarshal([]byte(c.mustRun("", "user", "list", "--json")), &users); err != nil || len(users) != 1 {
			t.Fatalf("after rejected creations: %v, %v", users, err)
		}
	})
}

func TestSetPassword(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		c := userCLI{t: t, url: url}
		c.createUser("ada@example.com", "Ada", "old password 1")
		c.createUser("bob@example.com", "Bob", "bob's password")

		ctx := context.Background()
		db := dbtest.OpenURL(t, url)
		store := models.NewStore(db)
		hasher := auth.NewHasher(auth.HasherOptions{})
		ada, oldHash, err := store.UserByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		bob, _, err := store.UserByEmail(ctx, "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		now := models.Now()
		for i, userID := range []string{ada.ID, ada.ID, bob.ID} {
			sess := &models.Session{
				ID: auth.RandomID(), Token: auth.RandomID(), UserID: userID,
				ExpiresAt: models.NewTime(now.Add(time.Hour)), CreatedAt: now, UpdatedAt: now,
			}
			if err := store.CreateSession(ctx, sess); err != nil {
				t.Fatalf("session %d: %v", i, err)
			}
		}

		c.wantErr("short\n", "password: must be at least 8 characters", "user", "set-password", "--email", "ada@example.com", "--password-stdin")
		c.wantErr("", "password on stdin is empty", "user", "set-password", "--email", "ada@example.com", "--password-stdin")
		c.wantErr("new password 2\n", "--password-stdin", "user", "set-password", "--email", "ada@example.com")
		if n := countRows(t, db, `SELECT count(*) FROM "session" WHERE "userId" = ?`, ada.ID); n != 2 {
			t.Fatalf("a rejected set-password ended sessions: %d left, want 2", n)
		}

		out := c.mustRun("new password 2\n", "user", "set-password", "--email", "Ada@example.com", "--password-stdin")
		if strings.TrimSpace(out) != "password changed for ada@example.com; their sessions were signed out" {
			t.Errorf("set-password printed %q", out)
		}
		_, newHash, err := store.UserByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := hasher.Verify(ctx, newHash, "old password 1"); ok {
			t.Error("the old password still verifies")
		}
		if ok, err := hasher.Verify(ctx, newHash, "new password 2"); !ok || err != nil {
			t.Errorf("the new password does not verify: %v", err)
		}
		if ok, _ := hasher.Verify(ctx, oldHash, "old password 1"); !ok || oldHash == newHash {
			t.Error("the hash did not change")
		}
		if n := countRows(t, db, `SELECT count(*) FROM "session" WHERE "userId" = ?`, ada.ID); n != 0 {
			t.Errorf("%d sessions of ada survived set-password", n)
		}
		if n := countRows(t, db, `SELECT count(*) FROM "session" WHERE "userId" = ?`, bob.ID); n != 1 {
			t.Errorf("bob has %d sessions after ada's set-password, want 1", n)
		}

		c.wantErr("new password 3\n", "no user with email nobody@example.com",
			"user", "set-password", "--email", "nobody@example.com", "--password-stdin")
	})
}

func TestDeleteUser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		c := userCLI{t: t, url: url}
		c.createUser("ada@example.com", "Ada", "ada's password")
		c.createUser("bob@example.com", "Bob", "bob's password")

		ctx := context.Background()
		db := dbtest.OpenURL(t, url)
		store := models.NewStore(db)
		ids := map[string]string{}
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			u, _, err := store.UserByEmail(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			ids[email] = u.ID
			now := models.Now()
			sess := &models.Session{
				ID: auth.RandomID(), Token: auth.RandomID(), UserID: u.ID,
				ExpiresAt: models.NewTime(now.Add(time.Hour)), CreatedAt: now, UpdatedAt: now,
			}
			if err := store.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			// The SQLite schema accepts timestamps only in exactly this form.
			const ts = "2026-11-25T10:00:00.000Z"
			if _, err := db.Write.ExecContext(ctx, `INSERT INTO "task" ("user_id", "title", "created_at", "updated_at") VALUES (?, ?, ?, ?)`,
				u.ID, "a task", ts, ts); err != nil {
				t.Fatalf("insert task: %v", err)
			}
		}
		owned := func(userID string) (n int) {
			for _, q := range []string{
				`SELECT count(*) FROM "user" WHERE "id" = ?`,
				`SELECT count(*) FROM "session" WHERE "userId" = ?`,
				`SELECT count(*) FROM "account" WHERE "userId" = ?`,
				`SELECT count(*) FROM "task" WHERE "user_id" = ?`,
			} {
				n += countRows(t, db, q, userID)
			}
			return n
		}
		if n := owned(ids["ada@example.com"]); n != 4 {
			t.Fatalf("ada owns %d rows before delete, want 4", n)
		}

		c.wantErr("y\n", "refusing to delete without --yes", "user", "delete", "--email", "ada@example.com")
		if n := owned(ids["ada@example.com"]); n != 4 {
			t.Fatalf("delete without --yes removed rows: %d left, want 4", n)
		}
		c.wantErr("", "no user with email nobody@example.com", "user", "delete", "--email", "nobody@example.com", "--yes")

		out := c.mustRun("", "user", "delete", "--email", "ADA@example.com", "--yes")
		if strings.TrimSpace(out) != "deleted user ada@example.com" {
			t.Errorf("delete printed %q", out)
		}
		if n := owned(ids["ada@example.com"]); n != 0 {
			t.Errorf("%d rows of ada survived delete", n)
		}
		if n := owned(ids["bob@example.com"]); n != 4 {
			t.Errorf("bob owns %d rows after ada's delete, want 4", n)
		}
		c.wantErr("", "no user with email ada@example.com", "user", "delete", "--email", "ada@example.com", "--yes")
	})
}

func TestUserCommandsRespectAutoMigrate(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t, database.SQLite)
	noAuto := fastConfig + "database:\n  auto_migrate: false\n"
	for _, args := range [][]string{
		{"create-user", "--email", "ada@example.com", "--name", "Ada", "--password-stdin"},
		{"user", "list"},
		{"user", "set-password", "--email", "ada@example.com", "--password-stdin"},
		{"user", "delete", "--email", "ada@example.com", "--yes"},
	} {
		_, _, err := runIn(t, "long enough password\n", noAuto, append(args, "--database-url", url)...)
		if err == nil || !strings.Contains(err.Error(), "run `todo migrate up` first") {
			t.Errorf("%v with pending migrations and auto_migrate off: %v", args, err)
		}
	}
	out, stderr, err := runIn(t, "", fastConfig, "user", "list", "--json", "--database-url", url)
	if err != nil || strings.TrimSpace(out) != "[]" || !strings.Contains(stderr, fmt.Sprintf("applied %d pending migrations", len(embeddedMigrations(t)))) {
		t.Fatalf("user list with auto_migrate on: %q, %q, %v", out, stderr, err)
	}
}

func TestUserHelpHasExamples(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"create-user"}, {"user"}, {"user", "list"}, {"user", "set-password"}, {"user", "delete"},
	} {
		out, _, err := run(t, append(args, "--help")...)
		if err != nil || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--database-url") {
			t.Errorf("%v --help: %v\n%s", args, err, out)
		}
	}
}

func TestReadPasswordLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		err      bool
	}{
		{in: "secret password", want: "secret password"},
		{in: "secret password\n", want: "secret password"},
		{in: "secret password\r\nrest\n", want: "secret password"},
		{in: " spaces count \n", want: " spaces count "},
		{in: strings.Repeat("x", maxPasswordLine) + "\n", want: strings.Repeat("x", maxPasswordLine)},
		{in: strings.Repeat("x", maxPasswordLine+1), err: true},
		{in: "", err: true},
		{in: "\r\n", err: true},
	}
	for _, c := range cases {
		got, err := readPasswordLine(strings.NewReader(c.in))
		if (err != nil) != c.err || got != c.want {
			t.Errorf("readPasswordLine(%.20q) = %.20q, %v", c.in, got, err)
		}
	}
}
