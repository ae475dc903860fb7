package models_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/models"
)

// TestConcurrentCreates creates tasks for three users from 16 goroutines
// at once, mixed with updates that move tasks between count rows. On
// PostgreSQL the creates share multi-row INSERTs whose count trigger runs
// beside other batches and updates of the same users: nothing may fail
// (with a deadlock, say), every task must get its own id and read back as
// it was created (unless updated since), and the counts must come out right.
func TestConcurrentCreates(t *testing.T) {
	dashEach(t, func(t *testing.T, e *dashEnv) {
		ctx := context.Background()
		users := []string{e.user(t, "ann"), e.user(t, "ben"), e.user(t, "cat")}
		type created struct {
			task    models.Task
			updated bool
		}
		var mu sync.Mutex
		var all []*created
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 17))
				var mine []*created
				for i := range 40 {
					user := users[r.IntN(len(users))]
					now := time.Now()
					if r.IntN(5) == 0 && len(mine) > 0 {
						c := mine[r.IntN(len(mine))]
						if _, err := e.store.UpdateTask(ctx, c.task.UserID, c.task.ID, countChanges(r, now), nil); err != nil {
							errs <- fmt.Errorf("update: %w", err)
							return
						}
						c.updated = true
						continue
					}
					task := &models.Task{
						UserID:   user,
						Title:    fmt.Sprintf("g%d-%d", g, i),
						Status:   r.IntN(3) == 0,
						Priority: 1 + r.IntN(3),
						Category: countCategories[r.IntN(len(countCategories))],
						DueDate:  countDue(r, now).Value,
					}
					if err := e.store.CreateTask(ctx, task); err != nil {
						errs <- fmt.Errorf("create: %w", err)
						return
					}
					mine = append(mine, &created{task: *task})
				}
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		ids := map[int64]bool{}
		for _, c := range all {
			if ids[c.task.ID] {
				t.Fatalf("id %d given to two tasks", c.task.ID)
			}
			ids[c.task.ID] = true
			got, err := e.store.TaskByID(ctx, c.task.UserID, c.task.ID)
			if err != nil {
				t.Fatalf("task %d (%s) of %s: %v", c.task.ID, c.task.Title, c.task.UserID, err)
			}
			if !c.updated && (got.Title != c.task.Title || got.Status != c.task.Status || got.Priority != c.task.Priority ||
				ptrText(got.Category) != ptrText(c.task.Category) || ptrText(got.DueDate) != ptrText(c.task.DueDate)) {
				t.Fatalf("task %d reads back as %+v, want %+v", c.task.ID, got, c.task)
			}
		}
		for _, user := range users {
			countCheck(t, e, user)
		}
	})
}

// TestCreateBatchRefusesOnlyTheBadTask writes a PostgreSQL batch in which
// one task belongs to a user that does not exist (deleted meanwhile): that
// task fails, the others are written with their own ids, and the counts
// include exactly them.
func TestCreateBatchRefusesOnlyTheBadTask(t *testing.T) {
	t.Parallel()
	e := dashOpen(t, database.Postgres)
	ctx := context.Background()
	dee, eve := e.user(t, "dee"), e.user(t, "eve")
	now := models.Now()
	batch := []*models.Task{
		{UserID: dee, Title: "first", Priority: 2, Version: 1, CreatedAt: now, UpdatedAt: now, Category: dashStr("work")},
		{UserID: eve, Title: "second", Priority: 3, Version: 1, CreatedAt: now, UpdatedAt: now, DueDate: dashAt(time.Now().Add(-48 * time.Hour))},
		{UserID: "nobody", Title: "orphan", Priority: 1, Version: 1, CreatedAt: now, UpdatedAt: now},
		{UserID: dee, Title: "fourth", Priority: 1, Version: 1, CreatedAt: now, UpdatedAt: now, DueDate: dashAt(time.Now().Add(48 * time.Hour))},
	}
	errs := e.store.InsertTasks(ctx, batch)
	for i, task := range batch {
		if wantErr := task.UserID == "nobody"; (errs[i] != nil) != wantErr {
			t.Fatalf("task %q: error %v", task.Title, errs[i])
		}
		if errs[i] != nil {
			continue
		}
		got, err := e.store.TaskByID(ctx, task.UserID, task.ID)
		if err != nil || got.Title != task.Title {
			t.Fatalf("task %q has id %d, which reads %+v (%v)", task.Title, task.ID, got, err)
		}
	}
	countCheck(t, e, dee)
	countCheck(t, e, eve)

	// A batch of good tasks only is written by one statement, its text
	// byte for byte.
	hostile := []string{`it's "quoted" \ \' ''`, "$1 ? :name @p1 %s", "🚀 Zoë\tab\n", "'); DROP TABLE \"task\"; --"}
	var more []*models.Task
	for i, title := range hostile {
		desc := title + "\r\n" + title
		more = append(more, &models.Task{UserID: []string{dee, eve}[i%2], Title: title, Description: &desc, Category: &hostile[3-i],
			Priority: 2, Version: 1, CreatedAt: now, UpdatedAt: now})
	}
	for i, err := range e.store.InsertTasks(ctx, more) {
		if err != nil {
			t.Fatalf("task %q: %v", more[i].Title, err)
		}
	}
	txids := map[string]bool{}
	for _, task := range more {
		got, err := e.store.TaskByID(ctx, task.UserID, task.ID)
		if err != nil || got.Title != task.Title || *got.Description != *task.Description || *got.Category != *task.Category {
			t.Fatalf("task %q has id %d, which reads %+v (%v)", task.Title, task.ID, got, err)
		}
		var xmin string
		if err := e.db.Read.NewRaw(`SELECT xmin::text FROM "task" WHERE "id" = ?`, task.ID).Scan(ctx, &xmin); err != nil {
			t.Fatal(err)
		}
		txids[xmin] = true
	}
	if len(txids) != 1 {
		t.Errorf("the batch was written by %d transactions, want one", len(txids))
	}

	countCheck(t, e, dee)
	countCheck(t, e, eve)
}
