package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/todo-app/todo/app/database"
)

// Limits of a task list page.
const (
	DefaultTaskListLimit = 50
	MaxTaskListLimit     = 200
)

// TaskSort is a column the task list can be ordered by.
type TaskSort string

// The sort keys the API accepts.
const (
	SortCreatedAt TaskSort = "created_at"
	SortUpdatedAt TaskSort = "updated_at"
	SortPriority  TaskSort = "priority"
	SortTitle     TaskSort = "title"
	SortDueDate   TaskSort = "due_date"
)

// DueFilter selects tasks by due date, relative to a reference instant and a
// time zone.
type DueFilter string

// The due filters the API accepts.
const (
	// DueOverdue is pending tasks due before now.
	DueOverdue DueFilter = "overdue"
	// DueToday is tasks due from the start of today up to, not including,
	// the start of tomorrow, in the filter's zone.
	DueToday DueFilter = "today"
	// DueWeek is tasks due from the start of today through the end of the
	// sixth day after it: seven calendar days in the filter's zone.
	DueWeek DueFilter = "week"
	// DueNone is tasks without a due date.
	DueNone DueFilter = "none"
)

// orderBy maps each sort key to fixed SQL, ascending and descending; no part
// of a request is ever written into the query. Ties are broken by id in the
// direction of the sort. due_date puts tasks without a due date last in both
// directions, written out the same way on both engines (PostgreSQL would
// otherwise put NULLs first when descending, SQLite first when ascending).
// Titles compare by code point (SQLite's BINARY collation; COLLATE "C" on
// PostgreSQL, see titleOrder) so both engines order them identically.
var orderBy = map[TaskSort][2]string{
	SortCreatedAt: {"{a}.created_at ASC, {a}.id ASC", "{a}.created_at DESC, {a}.id DESC"},
	SortUpdatedAt: {"{a}.updated_at ASC, {a}.id ASC", "{a}.updated_at DESC, {a}.id DESC"},
	SortPriority:  {"{a}.priority ASC, {a}.id ASC", "{a}.priority DESC, {a}.id DESC"},
	SortTitle:     {"{a}.title ASC, {a}.id ASC", "{a}.title DESC, {a}.id DESC"},
	SortDueDate: {
		"({a}.due_date IS NULL) ASC, {a}.due_date ASC, {a}.id ASC",
		"({a}.due_date IS NULL) ASC, {a}.due_date DESC, {a}.id DESC",
	},
}

// titleOrderPG orders titles by code point on PostgreSQL, whatever the
// database's default collation, to match SQLite's BINARY collation.
var titleOrderPG = [2]string{
	`{a}.title COLLATE "C" ASC, {a}.id ASC`,
	`{a}.title COLLATE "C" DESC, {a}.id DESC`,
}

// ValidTaskSort reports whether key is a sort key the list accepts.
func ValidTaskSort(key TaskSort) bool {
	_, ok := orderBy[key]
	return ok
}

// TaskFilter selects and orders one page of a user's tasks. The zero value
// lists everything oldest first, DefaultTaskListLimit at a time; the API
// asks for newest first (-created_at) by default.
type TaskFilter struct {
	// Status, when set, keeps only complete (true) or pending (false) tasks.
	Status *bool
	// Priorities, when not empty, keeps tasks with one of these priorities.
	Priorities []int
	// Category, when set, keeps tasks whose category is exactly this text.
	Category *string
	// Query, when not empty, keeps tasks whose title or description holds
	// it, case-insensitively (see ListTasks).
	Query string
	// Due selects by due date relative to Now in Location.
	Due DueFilter
	// Now is the reference instant of Due (the zero value means time.Now()).
	Now time.Time
	// Location is the zone whose days Due counts (nil means UTC).
	Location *time.Location
	// Sort is the column to order by (empty means created_at); Desc
	// reverses it.
	Sort TaskSort
	Desc bool
	// Limit is the page size (0 means DefaultTaskListLimit); Offset skips
	// that many tasks first.
	Limit  int
	Offset int64
}

// DueWindow is the range of due dates [From, Before) a Due filter of today
// or week selects, given the reference instant and zone. Each end is the
// first instant of a calendar day in loc, computed with the zone's rules for
// that day, so a day across a daylight-saving change lasts 23 or 25 hours.
func DueWindow(due DueFilter, now time.Time, loc *time.Location) (from, before Time, ok bool) {
	if loc == nil {
		loc = time.UTC
	}
	days := 0
	switch due {
	case DueToday:
		days = 1
	case DueWeek:
		days = 7
	default:
		return Time{}, Time{}, false
	}
	y, m, d := now.In(loc).Date()
	return NewTime(startOfDay(y, m, d, loc)), NewTime(startOfDay(y, m, d+days, loc)), true
}

// likePattern turns text into a LIKE pattern matching it as a substring:
// the pattern characters %, _ and the escape character \ are escaped, to be
// used with ESCAPE '\'.
func likePattern(text string) string {
	var b strings.Builder
	b.Grow(len(text) + 2)
	b.WriteByte('%')
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('%')
	return b.String()
}

// distinctPriorities is Priorities without repeats, in order, so the
// statement cache holds one query per number of distinct priorities, however
// the request spells them.
func (f *TaskFilter) distinctPriorities() []int {
	return slices.Compact(slices.Sorted(slices.Values(f.Priorities)))
}

// where writes the filter's conditions on table alias t, always starting
// with the user, as fixed SQL with ? placeholders; no part of the filter is
// ever written into the SQL itself.
func (f *TaskFilter) where(b *strings.Builder, args []any, userID string) []any {
	args = f.whereCounted(b, args, userID, "t", "")
	if f.Query != "" {
		// The same SQL on both engines: lower() on both sides, so text
		// always matches itself, and LIKE with the pattern characters
		// escaped, so %, _ and \ match literally. Case folding is lower()'s:
		// SQLite folds ASCII letters only; PostgreSQL folds by the
		// database's LC_CTYPE (every letter under a UTF-8 locale).
		pattern := likePattern(f.Query)
		b.WriteString(` AND (lower(t.title) LIKE lower(?) ESCAPE '\' OR lower(t.description) LIKE lower(?) ESCAPE '\')`)
		args = append(args, pattern, pattern)
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	switch f.Due {
	case DueOverdue:
		b.WriteString(" AND t.status = ? AND t.due_date < ?")
		args = append(args, false, NewTime(now))
	case DueNone:
		b.WriteString(" AND t.due_date IS NULL")
	case DueToday, DueWeek:
		from, before, _ := DueWindow(f.Due, now, f.Location)
		b.WriteString(" AND t.due_date >= ? AND t.due_date < ?")
		args = append(args, from, before)
	}
	return args
}

// count writes a SELECT of the number of the user's tasks that pass the
// filter, as the column total. Filters on status, priority and category
// alone are answered from task_count (migration 6), a handful of rows
// whatever the number of tasks; a text search or a due filter counts the
// matching tasks themselves.
func (f *TaskFilter) count(b *strings.Builder, args []any, userID string) []any {
	if f.Query != "" || f.Due != "" {
		b.WriteString(`SELECT count(*) AS total FROM "task" t WHERE `)
		return f.where(b, args, userID)
	}
	b.WriteString(`SELECT CAST(coalesce(sum(tc.n), 0) AS bigint) AS total FROM "task_count" tc WHERE `)
	return f.whereCounted(b, args, userID, "tc", "tc.has_category AND ")
}

// whereCounted writes the conditions on the user, status, priority and
// category, the columns task and task_count share, on table alias a.
// categoryGuard goes before the category's condition (task_count keeps the
// tasks without a category apart from those with "").
func (f *TaskFilter) whereCounted(b *strings.Builder, args []any, userID, a, categoryGuard string) []any {
	b.WriteString(a + ".user_id = ?")
	args = append(args, userID)
	if f.Status != nil {
		b.WriteString(" AND " + a + ".status = ?")
		args = append(args, *f.Status)
	}
	if len(f.Priorities) > 0 {
		priorities := f.distinctPriorities()
		b.WriteString(" AND " + a + ".priority IN (?")
		b.WriteString(strings.Repeat(", ?", len(priorities)-1))
		b.WriteString(")")
		for _, p := range priorities {
			args = append(args, p)
		}
	}
	if f.Category != nil {
		b.WriteString(" AND " + categoryGuard + a + ".category = ?")
		args = append(args, *f.Category)
	}
	return args
}

// listQuery is the SQL (with ? placeholders) and arguments of ListTasks.
// f's limit and offset must already be in range.
func (s *Store) listQuery(userID string, f TaskFilter) (string, []any, error) {
	key := f.Sort
	if key == "" {
		key = SortCreatedAt
	}
	order, ok := orderBy[key]
	if !ok {
		return "", nil, fmt.Errorf("list tasks: unknown sort key %q", key)
	}
	if key == SortTitle && s.db.Dialect == database.Postgres {
		order = titleOrderPG
	}
	dir := 0
	if f.Desc {
		dir = 1
	}

	// SELECT (count) AS total, t.* FROM task t WHERE ... ORDER BY ... LIMIT:
	// the count does not depend on the row, so both engines compute it once
	// (SQLite's ONCE, PostgreSQL's InitPlan), and the page is read in index
	// order with nothing materialized or sorted again. An empty page has no
	// row to carry the count; ListTasks then asks for it alone.
	var b strings.Builder
	b.WriteString(`SELECT (`)
	args := f.count(&b, make([]any, 0, 16), userID)
	b.WriteString(`) AS total, ` + taskColumnsT + ` FROM "task" t WHERE `)
	args = f.where(&b, args, userID)
	b.WriteString(" ORDER BY ")
	b.WriteString(strings.ReplaceAll(order[dir], "{a}", "t"))
	b.WriteString(" LIMIT ? OFFSET ?")
	args = append(args, f.Limit, f.Offset)

	return b.String(), args, nil
}

// ListTasks returns one page of the user's tasks that pass the filter, in
// its order, and how many pass it in all. Both come from one prepared
// statement, so they agree: a single SELECT reads one snapshot on either
// engine, without the round trips of a transaction. Only a page past the
// last task costs a second statement, for the count alone.
//
// The Query search is a case-insensitive substring match on title or
// description with the same SQL on both engines; for letters outside ASCII
// it is case-sensitive on SQLite (see where).
func (s *Store) ListTasks(ctx context.Context, userID string, f TaskFilter) ([]Task, int64, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultTaskListLimit
	}
	f.Limit = min(f.Limit, MaxTaskListLimit)
	if f.Offset < 0 {
		f.Offset = 0
	}
	query, args, err := s.listQuery(userID, f)
	if err != nil {
		return nil, 0, err
	}
	tasks, total, err := s.listPage(ctx, f.Limit, query, args)
	if err != nil {
		return nil, 0, fmt.Errorf("list tasks of user %s: %w", userID, err)
	}
	if len(tasks) == 0 {
		if total, err = s.countTasks(ctx, userID, f); err != nil {
			return nil, 0, fmt.Errorf("count tasks of user %s: %w", userID, err)
		}
	}
	return tasks, total, nil
}

func (s *Store) countTasks(ctx context.Context, userID string, f TaskFilter) (int64, error) {
	var b strings.Builder
	args := f.count(&b, make([]any, 0, 8), userID)
	rows, err := s.db.QueryRead(ctx, b.String(), args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var total int64
	if rows.Next() {
		if err := rows.Scan(&total); err != nil {
			return 0, err
		}
	}
	return total, rows.Err()
}

func (s *Store) listPage(ctx context.Context, limit int, query string, args []any) ([]Task, int64, error) {
	rows, err := s.db.QueryRead(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	tasks := make([]Task, 0, limit)
	var total int64
	for rows.Next() {
		tasks = append(tasks, Task{})
		if err := rows.Scan(taskDest(&tasks[len(tasks)-1], &total)...); err != nil {
			return nil, 0, err
		}
	}
	return tasks, total, rows.Err()
}
