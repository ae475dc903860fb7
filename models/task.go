package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/todo-app/todo/app/database"
)

// Priority levels of a task.
const (
	PriorityLow    = 1
	PriorityMedium = 2
	PriorityHigh   = 3
)

// Limits on task text, counted in characters (Unicode code points); the
// database enforces the same limits with CHECK constraints.
const (
	MaxTitleLength       = 200
	MaxDescriptionLength = 1000
	MaxCategoryLength    = 100
)

// Task is one user's todo item. Its JSON form is the API's Task object.
type Task struct {
	bun.BaseModel `bun:"table:task,alias:t"`

	ID          int64   `bun:"id,pk,autoincrement" json:"id"`
	Title       string  `bun:"title" json:"title"`
	Description *string `bun:"description" json:"description"`
	Status      bool    `bun:"status" json:"status"`
	Category    *string `bun:"category" json:"category"`
	Priority    int     `bun:"priority" json:"priority"`
	DueDate     *Time   `bun:"due_date" json:"due_date"`
	CompletedAt *Time   `bun:"completed_at" json:"completed_at"`
	Version     int     `bun:"version" json:"version"`
	CreatedAt   Time    `bun:"created_at" json:"created_at"`
	UpdatedAt   Time    `bun:"updated_at" json:"updated_at"`
	UserID      string  `bun:"user_id" json:"user_id"`
}

// ErrVersionMismatch is returned when an update or delete was conditional on
// versions (If-Match) and the task is at another one; nothing was changed.
var ErrVersionMismatch = errors.New("task version mismatch")

// Nullable is an optional change to a nullable column: Set false leaves the
// column alone, Set true with a nil Value clears it.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// TaskChanges is a partial update: only the fields that are set change.
// Values are taken as given (the routes validate them); Title is stored as
// is, so the caller trims it.
type TaskChanges struct {
	Title       *string
	Description Nullable[string]
	Category    Nullable[string]
	Priority    *int
	Status      *bool
	DueDate     Nullable[Time]
}

// ApplyTo writes the changes into t and reports whether any value differs
// from what t held. Status true sets CompletedAt to now when t was not
// already complete; status false clears it. Version and UpdatedAt are the
// store's business and are left alone.
func (ch TaskChanges) ApplyTo(t *Task, now Time) (changed bool) {
	if ch.Title != nil && *ch.Title != t.Title {
		t.Title, changed = *ch.Title, true
	}
	if ch.Description.Set && !equalPtr(ch.Description.Value, t.Description) {
		t.Description, changed = clonePtr(ch.Description.Value), true
	}
	if ch.Category.Set && !equalPtr(ch.Category.Value, t.Category) {
		t.Category, changed = clonePtr(ch.Category.Value), true
	}
	if ch.Priority != nil && *ch.Priority != t.Priority {
		t.Priority, changed = *ch.Priority, true
	}
	if ch.DueDate.Set && !equalTime(ch.DueDate.Value, t.DueDate) {
		t.DueDate, changed = clonePtr(ch.DueDate.Value), true
	}
	if ch.Status != nil && *ch.Status != t.Status {
		t.Status, changed = *ch.Status, true
		if t.Status {
			t.CompletedAt = &now
		} else {
			t.CompletedAt = nil
		}
	}
	return changed
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalTime(a, b *Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b.Time)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// TaskByID loads one of the user's tasks; another user's task is
// ErrNotFound, exactly like a missing one.
func (s *Store) TaskByID(ctx context.Context, userID string, id int64) (*Task, error) {
	tasks, err := s.queryTasks(ctx, taskByIDQuery, id, userID)
	if err != nil {
		return nil, fmt.Errorf("load task %d: %w", id, err)
	}
	if len(tasks) == 0 {
		return nil, ErrNotFound
	}
	return &tasks[0], nil
}

var taskByIDQuery = `SELECT ` + taskColumnsT + ` FROM "task" t WHERE t."id" = ? AND t."user_id" = ?`

// queryTasks runs a prepared read of taskColumnNames.
func (s *Store) queryTasks(ctx context.Context, query string, args ...any) ([]Task, error) {
	rows, err := s.db.QueryRead(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanTasks(rows, nil)
}

// TaskUpdate is what UpdateTask (or CompleteTask) did.
type TaskUpdate struct {
	// Task is the task as stored now.
	Task *Task
	// Changed is false when no value differed, so nothing was written.
	Changed bool
	// Completed is true when the status went from false to true.
	Completed bool
}

// UpdateTask applies a partial update to one of the user's tasks and reports
// the task as stored and what changed. ifMatch, when not nil, lists the versions the caller
// accepts (If-Match); a task at any other version is left unchanged and
// ErrVersionMismatch returned (an empty, non-nil list matches no version).
// A missing task, or another user's, is ErrNotFound whatever ifMatch says.
//
// An update that changes no value writes nothing: version and updated_at
// move only on a real change, and then by exactly one and to now.
//
// The row is read and written in one write transaction (SQLite's single
// writer, possibly grouped with other requests' writes, see
// database.WriteTx; SELECT ... FOR UPDATE on PostgreSQL), and the UPDATE repeats the
// version it read in its WHERE clause, so no concurrent change can slip in
// between the check and the write.
func (s *Store) UpdateTask(ctx context.Context, userID string, id int64, ch TaskChanges, ifMatch []int) (TaskUpdate, error) {
	var out TaskUpdate
	err := s.db.WriteTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := s.lockTask(ctx, tx, userID, id)
		if err != nil {
			return err
		}
		if ifMatch != nil && !slices.Contains(ifMatch, cur.Version) {
			return ErrVersionMismatch
		}
		next := *cur
		now := Now()
		if !ch.ApplyTo(&next, now) {
			out = TaskUpdate{Task: cur}
			return nil
		}
		next.Version = cur.Version + 1
		next.UpdatedAt = now
		res, err := tx.NewUpdate().Model(&next).
			Column("title", "description", "status", "category", "priority", "due_date",
				"completed_at", "version", "updated_at").
			Where("?TableAlias.id = ? AND ?TableAlias.user_id = ? AND ?TableAlias.version = ?",
				id, userID, cur.Version).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("update task %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrVersionMismatch
		}
		out = TaskUpdate{Task: &next, Changed: true, Completed: next.Status && !cur.Status}
		return nil
	})
	if err != nil {
		return TaskUpdate{}, err
	}
	return out, nil
}

// CompleteTask sets the task's status to true. It is idempotent: a task
// that is already complete is returned unchanged, keeping its version and
// completed_at. ifMatch is as for UpdateTask.
func (s *Store) CompleteTask(ctx context.Context, userID string, id int64, ifMatch []int) (TaskUpdate, error) {
	done := true
	return s.UpdateTask(ctx, userID, id, TaskChanges{Status: &done}, ifMatch)
}

// DeleteTask removes one of the user's tasks. ifMatch is as for UpdateTask.
func (s *Store) DeleteTask(ctx context.Context, userID string, id int64, ifMatch []int) error {
	return s.db.WriteTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := s.lockTask(ctx, tx, userID, id)
		if err != nil {
			return err
		}
		if ifMatch != nil && !slices.Contains(ifMatch, cur.Version) {
			return ErrVersionMismatch
		}
		res, err := tx.NewDelete().Model((*Task)(nil)).
			Where("?TableAlias.id = ? AND ?TableAlias.user_id = ? AND ?TableAlias.version = ?",
				id, userID, cur.Version).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete task %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrVersionMismatch
		}
		return nil
	})
}

// lockTask reads the user's task inside a write transaction, locking the
// row on PostgreSQL (SQLite's write transaction already excludes writers).
func (s *Store) lockTask(ctx context.Context, tx bun.Tx, userID string, id int64) (*Task, error) {
	t := new(Task)
	q := tx.NewSelect().Model(t).
		Where("?TableAlias.id = ? AND ?TableAlias.user_id = ?", id, userID)
	if s.db.Dialect == database.Postgres {
		q = q.For("UPDATE")
	}
	err := q.Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load task %d: %w", id, err)
	}
	return t, nil
}
