package crashtest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/todo-app/todo/app/server/servertest"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/models"
)

// taskJSON is the API's Task object, timestamps kept as sent.
type taskJSON = servertest.TaskJSON

// fields are the values one write sets. Every write, create or update, sets
// all of them from a unique key, so the key in a row's title says what every
// other field of the row must hold: a row mixing two writes is caught.
type fields struct {
	Title       string
	Description *string
	Category    *string
	Priority    int
	DueDate     *string
	Status      bool
}

const titlePrefix, titleSuffix = "crash ", " ✓"

func fieldsFor(key string) fields {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	x := h.Sum64()
	f := fields{Title: titlePrefix + key + titleSuffix, Priority: 1 + int(x>>24%3), Status: x>>48%2 == 1}
	if x%4 != 0 {
		d := key + " — déjà vu\n\twith \"quotes\", <b>tags</b> and 'apostrophes' " + strings.Repeat("·", int(x>>8%120))
		f.Description = &d
	}
	switch x >> 16 % 4 {
	case 1:
		f.Category = ptr("work")
	case 2:
		f.Category = ptr("home")
	case 3:
		f.Category = ptr("Ünïcode ☂")
	}
	if x>>32%5 != 0 {
		due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).
			Add(time.Duration(x>>40%100000) * time.Minute).Add(time.Duration(x%1000) * time.Millisecond)
		f.DueDate = ptr(due.Format(models.TimeLayout))
	}
	return f
}

func keyOf(title string) (string, bool) {
	rest, ok := strings.CutPrefix(title, titlePrefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, titleSuffix)
}

func ptr[T any](v T) *T { return &v }

func (f fields) createBody() map[string]any {
	b := map[string]any{"title": f.Title, "priority": f.Priority, "status": f.Status}
	if f.Description != nil {
		b["description"] = *f.Description
	}
	if f.Category != nil {
		b["category"] = *f.Category
	}
	if f.DueDate != nil {
		b["due_date"] = *f.DueDate
	}
	return b
}

func (f fields) patchBody() map[string]any {
	return map[string]any{
		"title": f.Title, "description": f.Description, "category": f.Category,
		"priority": f.Priority, "due_date": f.DueDate, "status": f.Status,
	}
}

// mismatch names the first field of task that differs from f, or "".
func (f fields) mismatch(task taskJSON) string {
	switch {
	case task.Title != f.Title:
		return fmt.Sprintf("title %q, want %q", task.Title, f.Title)
	case !equalPtr(task.Description, f.Description):
		return fmt.Sprintf("description %s, want %s", pretty(task.Description), pretty(f.Description))
	case !equalPtr(task.Category, f.Category):
		return fmt.Sprintf("category %s, want %s", pretty(task.Category), pretty(f.Category))
	case task.Priority != f.Priority:
		return fmt.Sprintf("priority %d, want %d", task.Priority, f.Priority)
	case !equalPtr(task.DueDate, f.DueDate):
		return fmt.Sprintf("due_date %s, want %s", pretty(task.DueDate), pretty(f.DueDate))
	case task.Status != f.Status:
		return fmt.Sprintf("status %v, want %v", task.Status, f.Status)
	}
	return ""
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

type user struct {
	idx               int
	id, email, token  string
	sessionsConfirmed bool
}

type counts struct {
	creates, updates, deletes int // acknowledged
	cutOff                    int // requests that died with the server
}

// ledger records what the clients wrote and what the server acknowledged.
type ledger struct {
	mu    sync.Mutex
	users []*user
	// acked holds each task's newest acknowledged state, or a newer one
	// found committed after a restart.
	acked map[int64]taskJSON
	owner map[int64]int
	// deleted holds acknowledged deletes (and deletes found committed).
	deleted map[int64]bool
	// deleteTries counts DELETEs sent per task, acknowledged or not.
	deleteTries map[int64]int
	// live lists each user's tasks that are not deleted, to pick from.
	live [][]int64
	// tried holds every write key sent.
	tried map[string]bool
	c     counts
	bad   atomic.Bool
	keys  atomic.Int64
	errs  int
}

func newLedger() *ledger {
	return &ledger{
		acked: map[int64]taskJSON{}, owner: map[int64]int{}, deleted: map[int64]bool{},
		deleteTries: map[int64]int{}, tried: map[string]bool{},
	}
}

func (l *ledger) failed() bool { return l.bad.Load() }

func (l *ledger) counts() counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c
}

func (l *ledger) ackedWrites() int {
	c := l.counts()
	return c.creates + c.updates + c.deletes
}

// errorf reports a failure from any goroutine, at most 20 of them.
func (l *ledger) errorf(t *testing.T, format string, args ...any) {
	l.bad.Store(true)
	l.mu.Lock()
	l.errs++
	n := l.errs
	l.mu.Unlock()
	if n <= 20 {
		t.Errorf(format, args...)
	}
}

// client is the API client the load runs with; a transport error is how a
// killed server shows.
type client = servertest.BearerClient

func newClient(base, token string) *client { return servertest.NewBearerClient(base, token) }

func (l *ledger) signUp(t *testing.T, base string, idx int) {
	t.Helper()
	email := fmt.Sprintf("crash-%d@example.com", idx)
	c := newClient(base, "")
	status, raw, err := c.Do(context.Background(), "POST", "/api/auth/signup",
		map[string]string{"name": fmt.Sprintf("Crash Tester %d", idx), "email": email, "password": "correct horse battery"})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("signup %s: %d %s %v", email, status, raw, err)
	}
	var body struct {
		User  struct{ ID string } `json:"user"`
		Token string              `json:"token"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Token == "" || body.User.ID == "" {
		t.Fatalf("signup %s: %s %v", email, raw, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users = append(l.users, &user{idx: idx, id: body.User.ID, email: email, token: body.Token})
	l.live = append(l.live, nil)
}

// startLoad runs workers clients per user against base until ctx ends or
// the server dies under them; done closes when all have stopped.
func (l *ledger) startLoad(ctx context.Context, t *testing.T, base string, workers int, seed uint64) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	l.mu.Lock()
	users := append([]*user(nil), l.users...)
	l.mu.Unlock()
	for _, u := range users {
		for w := range workers {
			wg.Add(1)
			rng := rand.New(rand.NewPCG(seed, uint64(u.idx*100+w)))
			go func() {
				defer wg.Done()
				l.work(ctx, t, newClient(base, u.token), u, rng)
			}()
		}
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

func (l *ledger) work(ctx context.Context, t *testing.T, c *client, u *user, rng *rand.Rand) {
	defer c.HTTP.CloseIdleConnections()
	for ctx.Err() == nil && !l.failed() {
		id := l.pick(u.idx, rng)
		r := rng.IntN(100)
		var ok bool
		switch {
		case id == 0 || r < 45:
			ok = l.create(ctx, t, c, u)
		case r < 92:
			ok = l.update(ctx, t, c, u, id)
		default:
			ok = l.delete(ctx, t, c, u, id)
		}
		if !ok {
			return
		}
	}
}

func (l *ledger) pick(u int, rng *rand.Rand) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.live[u]) == 0 {
		return 0
	}
	return l.live[u][rng.IntN(len(l.live[u]))]
}

func (l *ledger) newKey(u *user) (string, fields) {
	key := fmt.Sprintf("u%d-%d", u.idx, l.keys.Add(1))
	l.mu.Lock()
	l.tried[key] = true
	l.mu.Unlock()
	return key, fieldsFor(key)
}

// cutOff records a request that got no complete answer and tells the worker
// to stop: the server is gone (or going).
func (l *ledger) cutOff(ctx context.Context, t *testing.T, what string, err error) bool {
	l.mu.Lock()
	l.c.cutOff++
	l.mu.Unlock()
	// A kill resets the connection; a timeout means the server hung
	// instead, which is worth seeing in the log.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
		t.Logf("%s: no answer (%v)", what, err)
	}
	return false
}

func (l *ledger) create(ctx context.Context, t *testing.T, c *client, u *user) bool {
	key, f := l.newKey(u)
	status, raw, err := c.Do(ctx, "POST", "/api/tasks", f.createBody())
	if err != nil {
		return l.cutOff(ctx, t, "create "+key, err)
	}
	var task taskJSON
	if status != http.StatusCreated || json.Unmarshal(raw, &task) != nil {
		l.errorf(t, "create %s: %d %s", key, status, raw)
		return false
	}
	if m := f.mismatch(task); m != "" || task.Version != 1 || task.UserID != u.id || task.ID <= 0 {
		l.errorf(t, "create %s answered %s: %s", key, raw, m)
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c.creates++
	l.acked[task.ID] = task
	l.owner[task.ID] = u.idx
	l.live[u.idx] = append(l.live[u.idx], task.ID)
	return true
}

func (l *ledger) update(ctx context.Context, t *testing.T, c *client, u *user, id int64) bool {
	key, f := l.newKey(u)
	status, raw, err := c.Do(ctx, "PATCH", fmt.Sprintf("/api/tasks/%d", id), f.patchBody())
	if err != nil {
		return l.cutOff(ctx, t, fmt.Sprintf("update %d with %s", id, key), err)
	}
	if status == http.StatusNotFound {
		return l.gone(t, u, id, "update", 0)
	}
	var task taskJSON
	if status != http.StatusOK || json.Unmarshal(raw, &task) != nil {
		l.errorf(t, "update %d with %s: %d %s", id, key, status, raw)
		return false
	}
	if m := f.mismatch(task); m != "" || task.Version < 2 || task.UserID != u.id || task.ID != id {
		l.errorf(t, "update %d with %s answered %s: %s", id, key, raw, m)
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c.updates++
	if !l.deleted[id] && task.Version > l.acked[id].Version {
		l.acked[id] = task
	}
	return true
}

func (l *ledger) delete(ctx context.Context, t *testing.T, c *client, u *user, id int64) bool {
	l.mu.Lock()
	l.deleteTries[id]++
	l.mu.Unlock()
	status, raw, err := c.Do(ctx, "DELETE", fmt.Sprintf("/api/tasks/%d", id), nil)
	if err != nil {
		return l.cutOff(ctx, t, fmt.Sprintf("delete %d", id), err)
	}
	if status == http.StatusNotFound {
		// Fine if another client's DELETE got there first.
		return l.gone(t, u, id, "delete", 1)
	}
	if status != http.StatusNoContent {
		l.errorf(t, "delete %d: %d %s", id, status, raw)
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c.deletes++
	l.markDeleted(u.idx, id)
	return true
}

// gone handles a 404 for a task the client believed in: fine when a
// client sent a DELETE for it (other than the mine this client sent), a lost
// task otherwise.
func (l *ledger) gone(t *testing.T, u *user, id int64, what string, mine int) bool {
	l.mu.Lock()
	others := l.deleteTries[id] - mine
	if others > 0 {
		l.removeLive(u.idx, id)
	}
	l.mu.Unlock()
	if others == 0 {
		l.errorf(t, "%s %d: 404, but no client ever deleted task %d", what, id, id)
		return false
	}
	return true
}

func (l *ledger) markDeleted(u int, id int64) {
	l.deleted[id] = true
	delete(l.acked, id)
	l.removeLive(u, id)
}

func (l *ledger) removeLive(u int, id int64) {
	ids := l.live[u]
	for i, x := range ids {
		if x == id {
			ids[i] = ids[len(ids)-1]
			l.live[u] = ids[:len(ids)-1]
			return
		}
	}
}

// verify checks the database against the ledger with the load stopped and
// returns what is wrong: an acknowledged write missing or altered, a row that
// is not one whole write or is internally inconsistent, a failed engine
// check. With base set, the running server is asked too. States found
// committed without an acknowledgement (the requests the kill cut off) are
// adopted, so later rounds hold them to the same standard. err is for
// failures to check at all.
func (l *ledger) verify(d database.Dialect, dbURL, base string, st *runStats) (problems []string, err error) {
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := database.Open(database.Options{URL: dbURL, MaxOpenConns: 2, MaxIdleConns: 2})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := db.WaitReady(ctx, 10*time.Second, nil); err != nil {
		return nil, err
	}
	st.verifications++

	if d == database.SQLite {
		p, err := checkSQLite(ctx, db)
		if err != nil {
			return nil, err
		}
		problems = append(problems, p...)
	} else {
		var orphans int
		if err := db.Read.QueryRowContext(ctx,
			`SELECT count(*) FROM task t LEFT JOIN "user" u ON u.id = t.user_id WHERE u.id IS NULL`).Scan(&orphans); err != nil {
			return nil, err
		}
		if orphans != 0 {
			add("%d tasks without their user", orphans)
		}
	}

	var stored []models.Task
	if err := db.Read.NewSelect().Model(&stored).Order("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("read tasks: %w", err)
	}
	rows := make(map[int64]taskJSON, len(stored))
	for _, m := range stored {
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		var task taskJSON
		if err := json.Unmarshal(raw, &task); err != nil {
			return nil, err
		}
		rows[task.ID] = task
	}
	st.lastRows = len(rows)

	l.mu.Lock()
	defer l.mu.Unlock()
	userIdx := map[string]int{}
	for _, u := range l.users {
		userIdx[u.id] = u.idx
		var n int
		if err := db.Read.QueryRowContext(ctx,
			`SELECT count(*) FROM "session" s JOIN "user" u ON u.id = s."userId" WHERE s.token = ? AND u.id = ?`, u.token, u.id).Scan(&n); err != nil {
			return nil, err
		}
		if n != 1 {
			add("user %s's acknowledged sign-up: %d user+session rows, want 1", u.email, n)
		}
	}

	// Every acknowledged write is present and intact.
	for id, a := range l.acked {
		st.rowChecks++
		row, ok := rows[id]
		switch {
		case !ok && l.deleteTries[id] > 0:
			// A DELETE the kill cut off had committed.
			st.unackedCommitted++
			l.markDeleted(l.owner[id], id)
		case !ok:
			add("task %d is gone: acknowledged at version %d as %s", id, a.Version, pretty(a))
		case row.Version < a.Version:
			add("task %d is at version %d, but version %d was acknowledged:\n row   %s\n acked %s", id, row.Version, a.Version, pretty(row), pretty(a))
		case row.Version == a.Version && pretty(row) != pretty(a):
			add("task %d at the acknowledged version %d differs from the acknowledgement:\n row   %s\n acked %s", id, a.Version, pretty(row), pretty(a))
		}
	}
	for id := range l.deleted {
		st.rowChecks++
		if row, ok := rows[id]; ok {
			add("task %d was deleted (acknowledged) but is back: %s", id, pretty(row))
		}
	}

	// Every row is one whole write and internally consistent.
	perUser := map[string]int{}
	for id, row := range rows {
		st.rowChecks++
		perUser[row.UserID]++
		if p := rowProblem(row, l.tried); p != "" {
			add("task %d is inconsistent: %s\n row %s", id, p, pretty(row))
		}
		u, ok := userIdx[row.UserID]
		if !ok {
			add("task %d belongs to unknown user %q", id, row.UserID)
			continue
		}
		if o, known := l.owner[id]; known && o != u {
			add("task %d moved from user %d to user %d", id, o, u)
		}
		a, known := l.acked[id]
		if !known || row.Version > a.Version {
			// Committed but never acknowledged: a request the kill cut off.
			st.unackedCommitted++
			if !known {
				l.owner[id] = u
				l.live[u] = append(l.live[u], id)
			}
			l.acked[id] = row
		}
	}

	if base == "" {
		return problems, nil
	}
	// The restarted server serves the same rows, and every acknowledged
	// session still works.
	for _, u := range l.users {
		c := newClient(base, u.token)
		status, raw, err := c.Do(ctx, "GET", "/api/tasks?limit=1", nil)
		c.HTTP.CloseIdleConnections()
		var list struct{ Total int }
		if err != nil || status != http.StatusOK || json.Unmarshal(raw, &list) != nil {
			add("user %s after restart: GET /api/tasks = %d %s %v", u.email, status, raw, err)
			continue
		}
		if list.Total != perUser[u.id] {
			add("user %s: the server lists %d tasks, the database holds %d", u.email, list.Total, perUser[u.id])
		}
	}
	return problems, nil
}

// rowProblem returns what is wrong with a task row, or "".
func rowProblem(row taskJSON, tried map[string]bool) string {
	n := utf8.RuneCountInString(row.Title)
	switch {
	case n < 1 || n > models.MaxTitleLength:
		return fmt.Sprintf("title of %d characters", n)
	case row.Version < 1:
		return "version below 1"
	case row.Priority < 1 || row.Priority > 3:
		return "priority out of range"
	case row.Status != (row.CompletedAt != nil):
		return "status and completed_at disagree"
	case row.CreatedAt == "" || row.UpdatedAt < row.CreatedAt:
		return "updated_at before created_at"
	case row.Version == 1 && row.UpdatedAt != row.CreatedAt:
		return "never updated (version 1) yet updated_at differs from created_at"
	case row.CompletedAt != nil && (*row.CompletedAt < row.CreatedAt || *row.CompletedAt > row.UpdatedAt):
		return "completed_at outside created_at..updated_at"
	}
	key, ok := keyOf(row.Title)
	if !ok || !tried[key] {
		return "its title was never written by a client"
	}
	if m := fieldsFor(key).mismatch(row); m != "" {
		return "fields from more than one write (" + m + ")"
	}
	return ""
}

// checkSQLite runs SQLite's own consistency checks.
func checkSQLite(ctx context.Context, db *database.DB) ([]string, error) {
	rows, err := db.Read.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var problems []string
	if len(out) != 1 || out[0] != "ok" {
		problems = append(problems, fmt.Sprintf("PRAGMA integrity_check = %q, want ok", out))
	}
	var table string
	var rowid sql.NullInt64
	var parent string
	var fkid int
	err = db.Read.QueryRowContext(ctx, "PRAGMA foreign_key_check").Scan(&table, &rowid, &parent, &fkid)
	switch {
	case err == nil:
		problems = append(problems, fmt.Sprintf("PRAGMA foreign_key_check: row %d of %s refers to a missing %s", rowid.Int64, table, parent))
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("foreign_key_check: %w", err)
	}
	return problems, nil
}
