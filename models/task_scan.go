package models

import (
	"database/sql"
	"fmt"
	"strings"
)

// taskColumnNames are the task table's columns in the order scanTask reads
// them; the hot queries are written out with them so they can be prepared
// once and scanned without reflection.
var taskColumnNames = []string{"id", "title", "description", "status", "category", "priority",
	"due_date", "completed_at", "version", "created_at", "updated_at", "user_id"}

// taskColumnsOf lists the columns qualified with a table alias.
func taskColumnsOf(alias string) string {
	var b strings.Builder
	for i, c := range taskColumnNames {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(alias + `."` + c + `"`)
	}
	return b.String()
}

// The column lists of the hot queries, built once.
var (
	taskColumnsT = taskColumnsOf("t")
	taskColumnsP = taskColumnsOf("p")
)

// taskRow receives one row of taskColumnNames; every column may be NULL because
// the list's outer join yields a row of NULLs for an empty page.
type taskRow struct {
	id          sql.NullInt64
	title       sql.NullString
	description *string
	status      sql.NullBool
	category    *string
	priority    sql.NullInt64
	dueDate     *Time
	completedAt *Time
	version     sql.NullInt64
	createdAt   Time
	updatedAt   Time
	userID      sql.NullString
}

// dest lists the scan destinations, after any extra leading ones.
func (r *taskRow) dest(extra ...any) []any {
	return append(extra, &r.id, &r.title, &r.description, &r.status, &r.category, &r.priority,
		&r.dueDate, &r.completedAt, &r.version, &r.createdAt, &r.updatedAt, &r.userID)
}

// task converts the row; ok is false for the NULL row.
func (r *taskRow) task() (Task, bool) {
	if !r.id.Valid {
		return Task{}, false
	}
	return Task{
		ID: r.id.Int64, Title: r.title.String, Description: r.description, Status: r.status.Bool,
		Category: r.category, Priority: int(r.priority.Int64), DueDate: r.dueDate, CompletedAt: r.completedAt,
		Version: int(r.version.Int64), CreatedAt: r.createdAt, UpdatedAt: r.updatedAt, UserID: r.userID.String,
	}, true
}

// scanTasks reads rows of taskColumnNames into tasks.
func scanTasks(rows *sql.Rows, tasks []Task) ([]Task, error) {
	defer rows.Close()
	for rows.Next() {
		var r taskRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("scan task: %w", err)
		}
		if t, ok := r.task(); ok {
			tasks = append(tasks, t)
		}
	}
	return tasks, rows.Err()
}
