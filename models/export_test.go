package models

import "context"

// ListTasksSQL exposes the list's statement, so the plan tests can explain
// exactly what ListTasks prepares.
func (s *Store) ListTasksSQL(userID string, f TaskFilter) (string, []any, error) {
	return s.listQuery(userID, f)
}

var SortCategories = sortCategories

// InsertTasks writes tasks as one batch of concurrent creates would be.
func (s *Store) InsertTasks(ctx context.Context, tasks []*Task) []error {
	return s.insertBatch(ctx, tasks)
}
