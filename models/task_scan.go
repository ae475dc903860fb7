package models

import (
	"database/sql"
	"fmt"
	"strings"
)

// taskColumnNames are the task table's columns in the order taskDest scans
// them into; the hot queries are written out with them so they can be prepared
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

// quotedColumns lists columns quoted, unqualified.
func quotedColumns(columns []string) string {
	return `"` + strings.Join(columns, `", "`) + `"`
}

// taskColumnsT is the column list of the hot queries, built once.
var taskColumnsT = taskColumnsOf("t")

// taskDest lists the scan destinations of taskColumnNames in t, after any
// extra leading ones.
func taskDest(t *Task, extra ...any) []any {
	return append(extra, &t.ID, &t.Title, &t.Description, &t.Status, &t.Category, &t.Priority,
		&t.DueDate, &t.CompletedAt, &t.Version, &t.CreatedAt, &t.UpdatedAt, &t.UserID)
}

// scanTasks reads rows of taskColumnNames into tasks.
func scanTasks(rows *sql.Rows, tasks []Task) ([]Task, error) {
	defer rows.Close()
	for rows.Next() {
		var t Task
		if err := rows.Scan(taskDest(&t)...); err != nil {
			return nil, fmt.Errorf("scan task: %w", err)
		}
		tasks = append(tasks, t)
	}
	return tasks, rows.Err()
}
