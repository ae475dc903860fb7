package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/todo-app/todo/app/database"
)

// createTaskSQL is prepared once (database.QueryWrite): on SQLite, compiling
// the INSERT with the count triggers it fires took a fifth of the server's
// CPU under a stream of creates. It writes every column but the id, in
// taskColumnNames order.
var createTaskSQL = `INSERT INTO "task" (` + quotedColumns(taskColumnNames[1:]) + `) VALUES ` +
	createTaskRow + ` RETURNING "id"`

var createTaskRow = `(?` + strings.Repeat(", ?", len(taskColumnNames)-2) + `)`

// createBatchWorkers and maxCreateBatch shape PostgreSQL's batched creates
// (newCreateBatcher); chosen with todo bench --op create on 2 cores.
const (
	createBatchWorkers = 2
	maxCreateBatch     = 64
)

// createTaskBatchSQL holds the INSERT of each batch size the Batcher makes
// (the powers of two up to maxCreateBatch), each prepared once like
// createTaskSQL. Prepared, the values travel apart from the SQL: an
// unprepared query with arguments is interpolated by pgdriver into quoted
// literals, which PostgreSQL reads differently (backslashes as escapes)
// where standard_conforming_strings is off, and which it parses again for
// every batch.
var createTaskBatchSQL = func() map[int]string {
	m := map[int]string{}
	for n := 2; n <= maxCreateBatch; n *= 2 {
		m[n] = `INSERT INTO "task" (` + quotedColumns(taskColumnNames[1:]) + `) VALUES ` +
			createTaskRow + strings.Repeat(", "+createTaskRow, n-1) + ` RETURNING "id"`
	}
	return m
}()

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
		err = s.db.WriteStatement(ctx, func(ctx context.Context, db bun.IDB) error { return s.insertTask(ctx, db, t) })
	}
	if err != nil {
		return fmt.Errorf("create task for user %s: %w", t.UserID, err)
	}
	return nil
}

func (s *Store) insertTask(ctx context.Context, db bun.IDB, t *Task) error {
	rows, err := s.db.QueryWrite(ctx, db, createTaskSQL, createTaskArgs(nil, t)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errors.New("the insert returned no id")
	}
	return rows.Scan(&t.ID)
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
	return database.NewBatcher(createBatchWorkers, maxCreateBatch, s.insertTasks)
}

// insertTasks writes tasks and sets their ids, returning each one's error.
func (s *Store) insertTasks(ctx context.Context, tasks []*Task) []error {
	errs := make([]error, len(tasks))
	if len(tasks) == 1 {
		errs[0] = s.insertTask(ctx, s.db.Write, tasks[0])
		return errs
	}
	err := s.insertTaskBatch(ctx, tasks)
	if err == nil {
		return errs
	}
	// The statement is atomic, so nothing was written. A task the
	// database refused (its user deleted meanwhile, say) must fail alone:
	// each is tried again by itself. Any other failure (the connection,
	// say) is every task's, and trying again could write a task twice if
	// the batch did commit before the connection broke.
	if !isRowRejection(err) {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i, t := range tasks {
		errs[i] = s.insertTask(ctx, s.db.Write, t)
	}
	return errs
}

// insertTaskBatch writes tasks, a batch of one of createTaskBatchSQL's
// sizes, in one statement.
func (s *Store) insertTaskBatch(ctx context.Context, tasks []*Task) error {
	query, ok := createTaskBatchSQL[len(tasks)]
	if !ok {
		return fmt.Errorf("no INSERT for a batch of %d tasks", len(tasks))
	}
	args := make([]any, 0, len(tasks)*(len(taskColumnNames)-1))
	for _, t := range tasks {
		args = createTaskArgs(args, t)
	}
	rows, err := s.db.QueryWrite(ctx, s.db.Write, query, args...)
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

// isRowRejection reports a PostgreSQL error about the data of a row (class
// 22, data exception, or 23, integrity constraint violation) rather than
// about the statement or the connection.
func isRowRejection(err error) bool {
	var pgErr pgdriver.Error
	if !errors.As(err, &pgErr) {
		return false
	}
	code := pgErr.Field('C')
	return strings.HasPrefix(code, "22") || strings.HasPrefix(code, "23")
}
