package models

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/todo-app/todo/app/database"
)

// createTaskSQL holds the task INSERT of each size the create batches come
// in (one, and the powers of two up to maxCreateBatch). Each is prepared
// once (database.QueryWrite): on SQLite, compiling the INSERT with the count
// triggers it fires took a fifth of the server's CPU under a stream of
// creates. Prepared, the values also travel apart from the SQL: pgdriver
// interpolates an unprepared query's arguments into quoted literals, which
// PostgreSQL reads differently (backslashes as escapes) where
// standard_conforming_strings is off. Each writes every column but the id,
// in taskColumnNames order.
var createTaskSQL = func() map[int]string {
	row := `(?` + strings.Repeat(", ?", len(taskColumnNames)-2) + `)`
	m := map[int]string{}
	for n := 1; n <= maxCreateBatch; n *= 2 {
		m[n] = `INSERT INTO "task" (` + quotedColumns(taskColumnNames[1:]) + `) VALUES ` +
			row + strings.Repeat(", "+row, n-1) + ` RETURNING "id"`
	}
	return m
}()

// createBatchWorkers and maxCreateBatch shape PostgreSQL's batched creates
// (newCreateBatcher); chosen with todo bench --op create on 2 cores.
const (
	createBatchWorkers = 2
	maxCreateBatch     = 64
)

// CreateTask inserts t for t.UserID: it starts at version 1, created and
// updated now, and completed now when its status is already true. t.ID is
// set from the database.
func (s *Store) CreateTask(ctx context.Context, t *Task) error {
	now := Now()
	t.ID = 0
	t.Version = 1
	t.CreatedAt, t.UpdatedAt = now, now
	t.CompletedAt = nil
	if t.Status {
		t.CompletedAt = &now
	}
	var err error
	if s.creates != nil {
		err = s.creates.Do(ctx, t)
	} else {
		err = s.db.WriteStatement(ctx, func(ctx context.Context, db bun.IDB) error { return s.insertTasks(ctx, db, []*Task{t}) })
	}
	if err != nil {
		return fmt.Errorf("create task for user %s: %w", t.UserID, err)
	}
	return nil
}

func createTaskArgs(args []any, t *Task) []any {
	return append(args, t.Title, t.Description, t.Status, t.Category, t.Priority,
		t.DueDate, t.CompletedAt, t.Version, t.CreatedAt, t.UpdatedAt, t.UserID)
}

// newCreateBatcher writes the tasks of concurrent creates on PostgreSQL in
// one multi-row INSERT (see database.Batcher). The count trigger runs once
// per statement and takes its rows in key order (migration 7), so two
// batches never deadlock on one user's counts. SQLite needs none of this:
// its group commit already shares one transaction among concurrent writes.
func (s *Store) newCreateBatcher() *database.Batcher[*Task] {
	return database.NewBatcher(createBatchWorkers, maxCreateBatch, s.insertBatch)
}

// insertBatch writes a batch of creates and sets their ids, returning each
// one's error.
func (s *Store) insertBatch(ctx context.Context, tasks []*Task) []error {
	errs := make([]error, len(tasks))
	err := s.insertTasks(ctx, s.db.Write, tasks)
	switch {
	case err == nil:
	case len(tasks) > 1 && isRowRejection(err):
		// The statement is atomic, so nothing was written. A task the
		// database refused (its user deleted meanwhile, say) must fail
		// alone: each is tried again by itself.
		for i, t := range tasks {
			errs[i] = s.insertTasks(ctx, s.db.Write, []*Task{t})
		}
	default:
		// Any other failure (the connection, say) is every task's: trying
		// again could write a task twice if the batch did commit before
		// the connection broke.
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// insertTasks writes tasks, as many as one of createTaskSQL's sizes, in one
// statement on db, and sets their ids.
func (s *Store) insertTasks(ctx context.Context, db bun.IDB, tasks []*Task) error {
	query, ok := createTaskSQL[len(tasks)]
	if !ok {
		return fmt.Errorf("no INSERT for a batch of %d tasks", len(tasks))
	}
	args := make([]any, 0, len(tasks)*(len(taskColumnNames)-1))
	for _, t := range tasks {
		args = createTaskArgs(args, t)
	}
	rows, err := s.db.QueryWrite(ctx, db, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	ids := make([]int64, 0, len(tasks))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ids) != len(tasks) {
		return fmt.Errorf("the insert of %d tasks returned %d ids", len(tasks), len(ids))
	}
	// The rows are inserted in VALUES order and one statement draws its
	// identity values in increasing order, so the sorted ids match the
	// tasks in order whatever order RETURNING lists them in.
	slices.Sort(ids)
	for i, t := range tasks {
		t.ID = ids[i]
	}
	return nil
}
