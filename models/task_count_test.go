package models_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/models"
)

// countCategories includes "" (a category of its own) and two names that
// differ only in case, which the counts must keep apart.
var countCategories = []*string{nil, dashStr(""), dashStr("work"), dashStr("Work"), dashStr("ünï")}

// countDue picks a due date around now: none, days before, earlier today,
// later today, days after.
func countDue(r *rand.Rand, now time.Time) models.Nullable[models.Time] {
	today := now.UTC().Truncate(24 * time.Hour)
	var at time.Time
	switch r.IntN(6) {
	case 0:
		return models.Nullable[models.Time]{Set: true}
	case 1:
		at = today.AddDate(0, 0, -1-r.IntN(20)).Add(time.Duration(r.IntN(86400)) * time.Second)
	case 2:
		at = today.Add(time.Duration(r.Int64N(int64(now.Sub(today)) + 1)))
	case 3:
		at = now.Add(time.Duration(1+r.IntN(3600)) * time.Millisecond)
	default:
		at = today.AddDate(0, 0, 1+r.IntN(20))
	}
	return models.Nullable[models.Time]{Set: true, Value: dashAt(at)}
}

// countChanges is a random partial update touching the counted columns.
func countChanges(r *rand.Rand, now time.Time) models.TaskChanges {
	var ch models.TaskChanges
	if r.IntN(2) == 0 {
		done := r.IntN(2) == 0
		ch.Status = &done
	}
	if r.IntN(2) == 0 {
		p := 1 + r.IntN(3)
		ch.Priority = &p
	}
	if r.IntN(2) == 0 {
		ch.Category = models.Nullable[string]{Set: true, Value: countCategories[r.IntN(len(countCategories))]}
	}
	if r.IntN(2) == 0 {
		ch.DueDate = countDue(r, now)
	}
	if r.IntN(4) == 0 {
		title := fmt.Sprintf("edited %d", r.IntN(1000))
		ch.Title = &title
	}
	return ch
}

// countExpect computes, from the tasks themselves, what the stats and the
// filtered totals must say.
func countExpect(tasks []models.Task, now models.Time) *models.Stats {
	st := &models.Stats{ByCategory: []models.CategoryStats{}}
	idx := map[string]int{}
	for _, t := range tasks {
		var done int64
		if t.Status {
			done = 1
		}
		st.TotalTasks++
		st.CompletedTasks += done
		if !t.Status && t.DueDate != nil && t.DueDate.Before(now.Time) {
			st.OverdueTasks++
		}
		group := map[int]*models.Counts{1: &st.ByPriority.Low, 2: &st.ByPriority.Medium, 3: &st.ByPriority.High}[t.Priority]
		group.Total++
		group.Completed += done
		key := "nil"
		if t.Category != nil {
			key = "=" + *t.Category
		}
		i, ok := idx[key]
		if !ok {
			i = len(st.ByCategory)
			idx[key] = i
			st.ByCategory = append(st.ByCategory, models.CategoryStats{Category: t.Category})
		}
		st.ByCategory[i].Total++
		st.ByCategory[i].Completed += done
	}
	st.PendingTasks = st.TotalTasks - st.CompletedTasks
	if st.TotalTasks > 0 {
		st.CompletionRate = float64((st.CompletedTasks*2000+st.TotalTasks)/(2*st.TotalTasks)) / 10
	}
	return st
}

// countCheck compares the stats and the list totals of every status,
// priority and category filter with counts of the tasks themselves.
func countCheck(t *testing.T, e *dashEnv, user string) {
	t.Helper()
	ctx := context.Background()
	now := models.Now()
	all, total, err := e.store.ListTasks(ctx, user, models.TaskFilter{Limit: models.MaxTaskListLimit})
	if err != nil {
		t.Fatal(err)
	}
	for offset := int64(len(all)); offset < total; offset = int64(len(all)) {
		page, _, err := e.store.ListTasks(ctx, user, models.TaskFilter{Limit: models.MaxTaskListLimit, Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
	}
	if int64(len(all)) != total {
		t.Fatalf("total %d, but %d tasks listed", total, len(all))
	}
	got, err := e.store.TaskStats(ctx, user, now)
	if err != nil {
		t.Fatal(err)
	}
	want := countExpect(all, now)
	// Same order rules as the store's, applied to the expectation.
	models.SortCategories(want.ByCategory)
	dashSameStats(t, got, want)

	for _, status := range []*bool{nil, new(bool), func() *bool { b := true; return &b }()} {
		for _, prios := range [][]int{nil, {1}, {3, 2}, {2, 2}} {
			for _, cat := range countCategories {
				f := models.TaskFilter{Status: status, Priorities: prios, Category: cat, Limit: 1}
				var n int64
				for _, task := range all {
					if (status == nil || task.Status == *status) &&
						(prios == nil || task.Priority == prios[0] || task.Priority == prios[len(prios)-1]) &&
						(cat == nil || (task.Category != nil && *task.Category == *cat)) {
						n++
					}
				}
				_, got, err := e.store.ListTasks(ctx, user, f)
				if err != nil {
					t.Fatal(err)
				}
				if got != n {
					t.Errorf("total with status %v, priorities %v, category %v: %d, want %d",
						ptrText(status), prios, ptrText(cat), got, n)
				}
			}
		}
	}
}

func ptrText[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", fmt.Sprint(*p))
}

// TestTaskCountsFollowEveryWrite makes random creates, updates, completions
// and deletions and checks after each round that the counts the database
// keeps (migration 6) agree with the tasks themselves. Deleting a user
// removes its counts.
func TestTaskCountsFollowEveryWrite(t *testing.T) {
	dashEach(t, func(t *testing.T, e *dashEnv) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(7, 11))
		users := []string{e.user(t, "alice"), e.user(t, "bob")}
		ids := map[string][]int64{}
		for round := 0; round < 4; round++ {
			for i := 0; i < 60; i++ {
				user := users[r.IntN(len(users))]
				now := time.Now()
				switch op := r.IntN(10); {
				case op < 4 || len(ids[user]) == 0:
					task := &models.Task{
						UserID:   user,
						Title:    "task",
						Status:   r.IntN(3) == 0,
						Priority: 1 + r.IntN(3),
						Category: countCategories[r.IntN(len(countCategories))],
						DueDate:  countDue(r, now).Value,
					}
					if err := e.store.CreateTask(ctx, task); err != nil {
						t.Fatal(err)
					}
					ids[user] = append(ids[user], task.ID)
				case op < 8:
					id := ids[user][r.IntN(len(ids[user]))]
					if _, err := e.store.UpdateTask(ctx, user, id, countChanges(r, now), nil); err != nil {
						t.Fatal(err)
					}
				default:
					k := r.IntN(len(ids[user]))
					if err := e.store.DeleteTask(ctx, user, ids[user][k], nil); err != nil {
						t.Fatal(err)
					}
					ids[user] = append(ids[user][:k], ids[user][k+1:]...)
				}
			}
			for _, user := range users {
				countCheck(t, e, user)
			}
		}

		if err := e.store.DeleteUser(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"task_count", "task_due_count"} {
			n, err := e.db.Read.NewSelect().Table(table).Where("user_id = ?", "bob").Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s keeps %d rows of a deleted user", table, n)
			}
		}
		countCheck(t, e, "alice")
	})
}

// TestTaskCountsUnderConcurrentWrites updates one user's tasks from several
// goroutines at once, each change moving a task between count rows in
// opposite directions. On PostgreSQL the count rows are locked until
// commit; the trigger takes them in one order, so no write may fail with a
// deadlock, and the counts must come out right.
func TestTaskCountsUnderConcurrentWrites(t *testing.T) {
	dashEach(t, func(t *testing.T, e *dashEnv) {
		ctx := context.Background()
		user := e.user(t, "carol")
		var ids []int64
		for i := 0; i < 16; i++ {
			task := &models.Task{UserID: user, Title: "task", Priority: 1 + i%3, Category: countCategories[i%len(countCategories)]}
			if err := e.store.CreateTask(ctx, task); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, task.ID)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 3))
				for i := 0; i < 40; i++ {
					id := ids[r.IntN(len(ids))]
					if _, err := e.store.UpdateTask(ctx, user, id, countChanges(r, time.Now()), nil); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		countCheck(t, e, user)
	})
}
