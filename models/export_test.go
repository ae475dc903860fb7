package models

// ListTasksSQL exposes the list's statement, so the plan tests can explain
// exactly what ListTasks prepares.
func (s *Store) ListTasksSQL(userID string, f TaskFilter) (string, []any, error) {
	return s.listQuery(userID, f)
}

var SortCategories = sortCategories
