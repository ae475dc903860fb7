package migrator

// The upgrade tests take a database as an older release left it, with data
// in it, and migrate it forward one migration at a time, checking after
// every step that the data is intact. They are internal tests because
// applying migrations one at a time needs a Migrator that knows only the
// first few of them.
//
// When a migration is added, nothing here needs to change for it to be
// exercised: it becomes one more step after the first release, and it is the
// one rolled back and re-applied at the end. Only if a migration renames or
// drops one of the columns in releaseTables must that list say where the
// data went.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/migrate"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/models"
)

// firstRelease is the newest migration of the first released schema (todo
// 1.0 shipped both 20261125000001_better_auth and 20261125000002_tasks): the
// oldest schema an installation can be upgraded from.
const firstRelease = "20261125000002"

// tableSpec names a table and the columns a release wrote, in the order
// snapshots read them.
type tableSpec struct {
	name, key string
	columns   []string
}

// releaseTables is every table and column of the first release. A later
// migration may add columns and tables; these must keep their values.
var releaseTables = []tableSpec{
	{"user", "id", []string{"id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt"}},
	{"session", "id", []string{"id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId"}},
	{"account", "id", []string{"id", "accountId", "providerId", "userId", "accessToken", "refreshToken", "idToken",
		"accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt", "updatedAt"}},
	{"verification", "id", []string{"id", "identifier", "value", "expiresAt", "createdAt", "updatedAt"}},
	{"task", "id", []string{"id", "user_id", "title", "description", "status", "category", "priority", "due_date",
		"completed_at", "version", "created_at", "updated_at"}},
}

// authTables are the tables of the first migration alone.
var authTables = releaseTables[:4]

func upgradeCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// knowingFirst returns a Migrator for db that knows only the first n
// embedded migrations, as the release that shipped them did.
func knowingFirst(t *testing.T, db *database.DB, n int) *Migrator {
	t.Helper()
	m, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	limited := migrate.NewMigrations()
	for _, mig := range m.known.Sorted()[:n] {
		limited.Add(mig)
	}
	m.known = limited
	return m
}

// upgrade is one run: migrate to release one step at a time, seed, then
// every later migration one at a time, then the newest down and up again.
type upgrade struct {
	release string
	tables  []tableSpec
	// seed writes the release's data and returns a check, run at the
	// current schema, of what the current code reads back.
	seed func(t *testing.T, db *database.DB) (checkCurrent func(t *testing.T))
}

func (u upgrade) run(t *testing.T, db *database.DB) {
	ctx := upgradeCtx(t)
	all := mustNew(t, db).known.Sorted()
	last := slices.IndexFunc(all, func(m migrate.Migration) bool { return m.Name == u.release })
	if last < 0 {
		t.Fatalf("release migration %s is not embedded", u.release)
	}
	step := func(i int) {
		t.Helper()
		applied, err := knowingFirst(t, db, i+1).Up(ctx)
		if err != nil {
			t.Fatalf("apply %s: %v", all[i].String(), err)
		}
		if want := []string{all[i].String()}; !reflect.DeepEqual(applied, want) {
			t.Fatalf("step %d applied %v, want %v", i+1, applied, want)
		}
	}

	for i := 0; i <= last; i++ {
		step(i)
	}
	checkColumns(t, db, u.tables)
	checkCurrent := u.seed(t, db)
	want := snapshot(t, db, u.tables)
	if len(want) == 0 {
		t.Fatal("the seed wrote nothing")
	}
	same := func(when string) {
		t.Helper()
		if got := snapshot(t, db, u.tables); !reflect.DeepEqual(got, want) {
			t.Fatalf("after %s the release's data changed:\n%s", when, diff(want, got))
		}
	}

	for i := last + 1; i < len(all); i++ {
		step(i)
		same("applying " + all[i].String())
	}
	full := mustNew(t, db)
	if n, err := full.Pending(ctx); err != nil || n != 0 {
		t.Fatalf("after every step: %d pending, %v", n, err)
	}
	if newest := all[len(all)-1]; len(all)-1 > last {
		rolled, err := full.Down(ctx, 1)
		if err != nil || len(rolled) != 1 || rolled[0] != newest.String() {
			t.Fatalf("roll back the newest migration: %v, %v", rolled, err)
		}
		same("rolling back " + newest.String())
		if _, err := full.Up(ctx); err != nil {
			t.Fatalf("re-apply %s: %v", newest.String(), err)
		}
		same("re-applying " + newest.String())
	} else {
		t.Logf("no migration after %s yet: nothing to roll back past the release (the next migration will be)", u.release)
	}
	checkCurrent(t)
}

func mustNew(t *testing.T, db *database.DB) *Migrator {
	t.Helper()
	m, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestUpgradeFromFirstRelease migrates a database holding the first
// release's data, written through the models, to the current schema one
// migration at a time and checks every value survives each step, the newest
// migration's roll-back and re-apply, and reads back through the current
// models unchanged.
func TestUpgradeFromFirstRelease(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			upgrade{release: firstRelease, tables: releaseTables, seed: seedFirstRelease}.run(t, dbtest.Open(t, d))
		})
	}
}

// TestUpgradeKeepsAuthData starts one migration earlier, with only Better
// Auth's tables, so the stepping, the check after each later step and the
// roll-back of the newest run today even while the first release is the
// current schema: the accounts and sessions Better Auth (or todo) wrote
// survive every todo migration after it.
func TestUpgradeKeepsAuthData(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			first := mustNew(t, db).known.Sorted()[0].Name
			upgrade{release: first, tables: authTables, seed: func(t *testing.T, db *database.DB) func(*testing.T) {
				ids := seedAuth(t, db)
				return func(t *testing.T) { ids.check(t, db) }
			}}.run(t, db)
		})
	}
}

// seededAuth is what seedAuth wrote, for reading back.
type seededAuth struct {
	users  []models.User
	hashes map[string]string // email -> password hash
	tokens map[string]string // session token -> user id
}

func (s seededAuth) check(t *testing.T, db *database.DB) {
	t.Helper()
	ctx := upgradeCtx(t)
	store := models.NewStore(db)
	for _, want := range s.users {
		got, hash, err := store.UserByEmail(ctx, want.Email)
		if err != nil {
			t.Fatalf("user %s: %v", want.Email, err)
		}
		if !reflect.DeepEqual(jsonOf(t, got), jsonOf(t, &want)) || hash != s.hashes[want.Email] {
			t.Errorf("user %s reads back as %s (hash %q), want %s (hash %q)", want.Email, jsonOf(t, got), hash, jsonOf(t, &want), s.hashes[want.Email])
		}
	}
	for token, userID := range s.tokens {
		sess, u, err := store.SessionByToken(ctx, token)
		if err != nil || sess.UserID != userID || u.ID != userID {
			t.Errorf("session %s: %v, %v, %v", token, sess, u, err)
		}
	}
}

// seedAuth writes users, their credential accounts, sessions and a
// verification row through the models (raw SQL where no model exists).
func seedAuth(t *testing.T, db *database.DB) seededAuth {
	t.Helper()
	ctx := upgradeCtx(t)
	store := models.NewStore(db)
	at := func(s string) models.Time {
		v, err := models.ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	image := "https://example.com/zoë.png"
	out := seededAuth{hashes: map[string]string{}, tokens: map[string]string{}}
	for i, u := range []models.User{
		{ID: "upgradeUser0000000000000000000A1", Name: "Ada Lovelace", Email: "ada@example.com", EmailVerified: true,
			CreatedAt: at("2026-12-02T17:19:08.220Z"), UpdatedAt: at("2026-12-03T09:00:00.001Z")},
		{ID: "upgradeUser0000000000000000000B2", Name: "Zoë Ölçek 🚀 <b>&amp;</b>", Email: "zoe@example.com", Image: &image,
			CreatedAt: at("2026-12-24T23:59:59.999Z"), UpdatedAt: at("2026-12-24T23:59:59.999Z")},
	} {
		// A bcrypt hash as todo writes it and a scrypt one as Better Auth does.
		hash := []string{
			"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
			"3c5a7f0d3e1b2a4c6d8e0f1a2b3c4d5e:" + strings.Repeat("9f", 64),
		}[i]
		acct := models.NewCredentialAccount(fmt.Sprintf("upgradeAccount00000000000000000%d", i), u.ID, hash, u.CreatedAt)
		if err := store.CreateUser(ctx, &u, acct); err != nil {
			t.Fatal(err)
		}
		ip, agent := "2001:db8::1", "Mozilla/5.0 (X11; Linux x86_64) \"quoted\""
		token := fmt.Sprintf("upgradeToken0000000000000000000%d", i)
		if err := store.CreateSession(ctx, &models.Session{ID: fmt.Sprintf("upgradeSession00000000000000000%d", i), Token: token,
			UserID: u.ID, ExpiresAt: at("2099-01-01T00:00:00.000Z"), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
			IPAddress: &ip, UserAgent: &agent}); err != nil {
			t.Fatal(err)
		}
		out.users = append(out.users, u)
		out.hashes[u.Email] = hash
		out.tokens[token] = u.ID
	}
	if _, err := db.Write.ExecContext(ctx,
		`INSERT INTO "verification" ("id", "identifier", "value", "expiresAt", "createdAt", "updatedAt") VALUES (?, ?, ?, ?, ?, ?)`,
		"upgradeVerification0000000000001", "email-verification:ada@example.com", "opaque-value-✓",
		at("2026-12-04T00:00:00.000Z"), at("2026-12-03T00:00:00.000Z"), at("2026-12-03T00:00:00.000Z")); err != nil {
		t.Fatal(err)
	}
	return out
}

// seedFirstRelease writes the first release's data: seedAuth's accounts and
// tasks covering every column's edge values, updated, completed and deleted
// the way the API does it.
func seedFirstRelease(t *testing.T, db *database.DB) func(*testing.T) {
	t.Helper()
	ctx := upgradeCtx(t)
	auth := seedAuth(t, db)
	store := models.NewStore(db)
	ada, zoe := auth.users[0].ID, auth.users[1].ID
	due := models.NewTime(time.Date(2027, 2, 28, 23, 30, 0, 123e6, time.UTC))
	text := func(s string) *string { return &s }

	var tasks []*models.Task
	create := func(task models.Task) *models.Task {
		t.Helper()
		if err := store.CreateTask(ctx, &task); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, &task)
		return &task
	}
	update := func(task *models.Task, ch models.TaskChanges) {
		t.Helper()
		res, err := store.UpdateTask(ctx, task.UserID, task.ID, ch, nil)
		if err != nil {
			t.Fatal(err)
		}
		*task = *res.Task
	}

	create(models.Task{UserID: ada, Title: "Buy milk", Priority: models.PriorityMedium})
	create(models.Task{UserID: ada, Title: "  Everything at once: <script>alert(1)</script> '; DROP TABLE task; --",
		Description: text("line one\nline two\twith a tab, \"quotes\", 'apostrophes', emoji 🎉 and NUL-free bytes"),
		Category:    text("Ünïcode ☂"), Priority: models.PriorityHigh, DueDate: &due})
	create(models.Task{UserID: ada, Title: "Done from the start", Status: true, Priority: models.PriorityLow,
		Category: text("work")})
	edited := create(models.Task{UserID: ada, Title: "Edited three times", Priority: models.PriorityLow,
		Description: text("first")})
	title, priority := "Edited three times (renamed)", models.PriorityHigh
	update(edited, models.TaskChanges{Title: &title, Priority: &priority,
		Description: models.Nullable[string]{Set: true}, DueDate: models.Nullable[models.Time]{Set: true, Value: &due}})
	update(edited, models.TaskChanges{Category: models.Nullable[string]{Set: true, Value: text("home")}})
	if res, err := store.CompleteTask(ctx, ada, edited.ID, nil); err != nil {
		t.Fatal(err)
	} else {
		*edited = *res.Task
	}
	create(models.Task{UserID: ada, Title: strings.Repeat("é", models.MaxTitleLength),
		Description: text(strings.Repeat("ß", models.MaxDescriptionLength)),
		Category:    text(strings.Repeat("c", models.MaxCategoryLength)), Priority: models.PriorityMedium})
	deleted := create(models.Task{UserID: ada, Title: "Deleted before the upgrade", Priority: models.PriorityMedium})
	if err := store.DeleteTask(ctx, ada, deleted.ID, nil); err != nil {
		t.Fatal(err)
	}
	tasks = slices.DeleteFunc(tasks, func(x *models.Task) bool { return x.ID == deleted.ID })
	create(models.Task{UserID: zoe, Title: "Zoë's first task", Priority: models.PriorityHigh, DueDate: &due})
	past := models.NewTime(time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC))
	create(models.Task{UserID: zoe, Title: "Overdue since before the upgrade", Priority: models.PriorityLow, DueDate: &past})
	if edited.Version != 4 || !edited.Status || edited.CompletedAt == nil {
		t.Fatalf("seed: the edited task is %+v, want version 4 and complete", edited)
	}

	return func(t *testing.T) {
		t.Helper()
		ctx := upgradeCtx(t)
		auth.check(t, db)
		var maxID int64
		perUser := map[string]int64{}
		completed := map[string]int64{}
		for _, want := range tasks {
			got, err := store.TaskByID(ctx, want.UserID, want.ID)
			if err != nil {
				t.Fatalf("task %d: %v", want.ID, err)
			}
			if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
				t.Errorf("task %d reads back as\n %s\nwant\n %s", want.ID, g, w)
			}
			maxID = max(maxID, want.ID)
			perUser[want.UserID]++
			if want.Status {
				completed[want.UserID]++
			}
		}
		if _, err := store.TaskByID(ctx, ada, deleted.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the task deleted before the upgrade: %v, want not found", err)
		}
		for userID, n := range perUser {
			list, total, err := store.ListTasks(ctx, userID, models.TaskFilter{})
			if err != nil || total != n || int64(len(list)) != n {
				t.Errorf("list of %s: %d of total %d, %v; want %d", userID, len(list), total, err, n)
			}
			stats, err := store.TaskStats(ctx, userID, models.Now())
			if err != nil || stats.TotalTasks != n || stats.CompletedTasks != completed[userID] {
				t.Errorf("stats of %s: %+v, %v; want %d tasks, %d completed", userID, stats, err, n, completed[userID])
			}
			// The counts kept since migration 6 start from the tasks
			// already there: one overdue task, Zoë's.
			if overdue := map[bool]int64{true: 1}[userID == zoe]; err == nil && stats.OverdueTasks != overdue {
				t.Errorf("stats of %s: %d overdue, want %d", userID, stats.OverdueTasks, overdue)
			}
		}
		// The current code writes to the upgraded schema, and ids are never
		// reused: not even the deleted task's.
		next := models.Task{UserID: zoe, Title: "Written after the upgrade", Priority: models.PriorityLow}
		if err := store.CreateTask(ctx, &next); err != nil {
			t.Fatal(err)
		}
		if next.ID <= max(maxID, deleted.ID) {
			t.Errorf("a task created after the upgrade got id %d, not above %d", next.ID, max(maxID, deleted.ID))
		}
		done := true
		if _, err := store.UpdateTask(ctx, zoe, next.ID, models.TaskChanges{Status: &done}, []int{1}); err != nil {
			t.Errorf("update after the upgrade: %v", err)
		}
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkColumns fails unless every column listed exists, so that the lists
// above stay true to the schema they describe.
func checkColumns(t *testing.T, db *database.DB, tables []tableSpec) {
	t.Helper()
	ctx := upgradeCtx(t)
	for _, spec := range tables {
		q := `SELECT name FROM pragma_table_info(?) ORDER BY cid`
		if db.Dialect == database.Postgres {
			q = `SELECT column_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`
		}
		rows, err := db.Write.QueryContext(ctx, q, spec.name)
		if err != nil {
			t.Fatal(err)
		}
		var have []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			have = append(have, c)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(have, spec.columns) {
			t.Fatalf("table %s has columns %v; the release's list says %v", spec.name, have, spec.columns)
		}
	}
}

// snapshot reads every listed column of every row, as text, keyed by
// table and primary key.
func snapshot(t *testing.T, db *database.DB, tables []tableSpec) map[string][]string {
	t.Helper()
	ctx := upgradeCtx(t)
	out := map[string][]string{}
	for _, spec := range tables {
		quoted := make([]string, len(spec.columns))
		for i, c := range spec.columns {
			quoted[i] = `"` + c + `"`
		}
		rows, err := db.Write.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM "%s" ORDER BY "%s"`,
			strings.Join(quoted, ", "), spec.name, spec.key))
		if err != nil {
			t.Fatalf("read %s: %v", spec.name, err)
		}
		for rows.Next() {
			vals := make([]any, len(spec.columns))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = spec.columns[i] + "=" + render(v)
			}
			out[spec.name+" "+row[slices.Index(spec.columns, spec.key)]] = row
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("%q", x)
	case string:
		return fmt.Sprintf("%q", x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprintf("%v (%T)", x, x)
	}
}

func diff(want, got map[string][]string) string {
	var b strings.Builder
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			fmt.Fprintf(&b, "  %s: gone\n", k)
		case !reflect.DeepEqual(g, w):
			for i := range min(len(w), len(g)) {
				if w[i] != g[i] {
					fmt.Fprintf(&b, "  %s: was %s, now %s\n", k, w[i], g[i])
				}
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  %s: new row %v\n", k, g)
		}
	}
	return b.String()
}
