package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/migrator"
	"github.com/todo-app/todo/models"
)

// TestVerifyCatchesDamage damages a database in each way the crash test
// must notice and checks that verify reports every one of them, and nothing
// on the undamaged database: a checker that never complains proves nothing.
func TestVerifyCatchesDamage(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db, err := database.Open(database.Options{URL: url, MaxOpenConns: 4, MaxIdleConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		m, err := migrator.New(db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Up(ctx); err != nil {
			t.Fatal(err)
		}
		dialect, _, err := database.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		store := models.NewStore(db)
		now := models.Now()
		u := &models.User{ID: "crashtestuser0000000000000000001", Name: "U", Email: "u@example.com", CreatedAt: now, UpdatedAt: now}
		if err := store.CreateUser(ctx, u, models.NewCredentialAccount("crashtestaccount0000000000000001", u.ID, "x", now)); err != nil {
			t.Fatal(err)
		}
		token := "crashtesttoken000000000000000001"
		if err := store.CreateSession(ctx, &models.Session{ID: "crashtestsession0000000000000001", Token: token, UserID: u.ID,
			ExpiresAt: models.NewTime(time.Now().Add(time.Hour)), CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}

		l := newLedger()
		l.users = []*user{{idx: 0, id: u.ID, email: u.Email, token: token}}
		l.live = [][]int64{nil}
		asJSON := func(task *models.Task) taskJSON {
			raw, _ := json.Marshal(task)
			var out taskJSON
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
			return out
		}
		// create writes a task as the API would and records it, acknowledged
		// or not.
		create := func(key string, ack bool) int64 {
			f := fieldsFor(key)
			task := &models.Task{UserID: u.ID, Title: f.Title, Description: f.Description, Category: f.Category,
				Priority: f.Priority, Status: f.Status}
			if f.DueDate != nil {
				d, err := models.ParseTime(*f.DueDate)
				if err != nil {
					t.Fatal(err)
				}
				task.DueDate = &d
			}
			if err := store.CreateTask(ctx, task); err != nil {
				t.Fatal(err)
			}
			l.tried[key] = true
			if ack {
				l.acked[task.ID] = asJSON(task)
				l.owner[task.ID] = 0
				l.live[0] = append(l.live[0], task.ID)
			}
			return task.ID
		}
		exec := func(query string, args ...any) {
			if _, err := db.Write.ExecContext(ctx, query, args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}

		ids := map[string]int64{}
		for _, name := range []string{"gone", "older", "altered", "undeleted", "torn", "uncompleted", "fine"} {
			ids[name] = create("u0-"+name, name != "torn")
		}
		var st runStats
		if problems, err := l.verify(dialect, url, "", &st); err != nil || len(problems) > 0 {
			t.Fatalf("the undamaged database: %v, %q", err, problems)
		}

		// An acknowledged update, then the row rolled back to before it.
		f := fieldsFor("u0-older-2")
		l.tried["u0-older-2"] = true
		up, err := store.UpdateTask(ctx, u.ID, ids["older"], models.TaskChanges{Title: &f.Title,
			Description: models.Nullable[string]{Set: true, Value: f.Description}, Category: models.Nullable[string]{Set: true, Value: f.Category},
			Priority: &f.Priority, Status: &f.Status}, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.acked[ids["older"]] = asJSON(up.Task)
		exec("UPDATE task SET version = 1 WHERE id = ?", ids["older"])

		exec("DELETE FROM task WHERE id = ?", ids["gone"])
		exec("UPDATE task SET description = 'changed behind the ledger' WHERE id = ?", ids["altered"])
		l.deleted[ids["undeleted"]] = true
		delete(l.acked, ids["undeleted"])
		exec("UPDATE task SET priority = ? WHERE id = ?", fieldsFor("u0-torn").Priority%3+1, ids["torn"])
		exec("UPDATE task SET status = ?, completed_at = NULL WHERE id = ?", true, ids["uncompleted"])
		intruder := &models.Task{UserID: u.ID, Title: "nobody wrote this", Priority: 2}
		if err := store.CreateTask(ctx, intruder); err != nil {
			t.Fatal(err)
		}

		problems, err := l.verify(dialect, url, "", &st)
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(problems, "\n")
		for _, want := range []string{
			fmt.Sprintf("task %d is gone", ids["gone"]),
			fmt.Sprintf("task %d is at version 1, but version 2 was acknowledged", ids["older"]),
			fmt.Sprintf("task %d at the acknowledged version 1 differs", ids["altered"]),
			fmt.Sprintf("task %d was deleted (acknowledged) but is back", ids["undeleted"]),
			fmt.Sprintf("task %d is inconsistent: fields from more than one write (priority", ids["torn"]),
			fmt.Sprintf("task %d is inconsistent: status and completed_at disagree", ids["uncompleted"]),
			fmt.Sprintf("task %d is inconsistent: its title was never written", intruder.ID),
		} {
			if !strings.Contains(all, want) {
				t.Errorf("verify did not report %q; it reported:\n%s", want, all)
			}
		}
		if strings.Contains(all, fmt.Sprintf("task %d ", ids["fine"])) {
			t.Errorf("verify complained about the untouched task %d:\n%s", ids["fine"], all)
		}
	})
}
