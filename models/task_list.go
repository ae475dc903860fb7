package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

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
	SortCreatedAt: {"?TableAlias.created_at ASC, ?TableAlias.id ASC", "?TableAlias.created_at DESC, ?TableAlias.id DESC"},
	SortUpdatedAt: {"?TableAlias.updated_at ASC, ?TableAlias.id ASC", "?TableAlias.updated_at DESC, ?TableAlias.id DESC"},
	SortPriority:  {"?TableAlias.priority ASC, ?TableAlias.id ASC", "?TableAlias.priority DESC, ?TableAlias.id DESC"},
	SortTitle:     {"?TableAlias.title ASC, ?TableAlias.id ASC", "?TableAlias.title DESC, ?TableAlias.id DESC"},
	SortDueDate: {
		"(?TableAlias.due_date IS NULL) ASC, ?TableAlias.due_date ASC, ?TableAlias.id ASC",
		"(?TableAlias.due_date IS NULL) ASC, ?TableAlias.due_date DESC, ?TableAlias.id DESC",
	},
}

// titleOrderPG orders titles by code point on PostgreSQL, whatever the
// database's default collation, to match SQLite's BINARY collation.
var titleOrderPG = [2]string{
	`?TableAlias.title COLLATE "C" ASC, ?TableAlias.id ASC`,
	`?TableAlias.title COLLATE "C" DESC, ?TableAlias.id DESC`,
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

// where adds the filter's conditions, always starting with the user.
func (f *TaskFilter) where(q *bun.SelectQuery, userID string) *bun.SelectQuery {
	q = q.Where("?TableAlias.user_id = ?", userID)
	if f.Status != nil {
		q = q.Where("?TableAlias.status = ?", *f.Status)
	}
	if len(f.Priorities) > 0 {
		q = q.Where("?TableAlias.priority IN (?)", bun.In(f.Priorities))
	}
	if f.Category != nil {
		q = q.Where("?TableAlias.category = ?", *f.Category)
	}
	if f.Query != "" {
		// The same SQL on both engines: lower() on both sides, so text
		// always matches itself, and LIKE with the pattern characters
		// escaped, so %, _ and \ match literally. Case folding is lower()'s:
		// SQLite folds ASCII letters only; PostgreSQL folds by the
		// database's LC_CTYPE (every letter under a UTF-8 locale). The
		// escape character is a literal here; a backslash right before a
		// placeholder would escape it in Bun's formatter, hence the order.
		pattern := likePattern(f.Query)
		q = q.Where(`(lower(?TableAlias.title) LIKE lower(?) ESCAPE '\'`+
			` OR lower(?TableAlias.description) LIKE lower(?) ESCAPE '\')`, pattern, pattern)
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	switch f.Due {
	case DueOverdue:
		q = q.Where("?TableAlias.status = ?", false).
			Where("?TableAlias.due_date < ?", NewTime(now))
	case DueNone:
		q = q.Where("?TableAlias.due_date IS NULL")
	case DueToday, DueWeek:
		from, before, _ := DueWindow(f.Due, now, f.Location)
		q = q.Where("?TableAlias.due_date >= ?", from).
			Where("?TableAlias.due_date < ?", before)
	}
	return q
}

// ListTasks returns one page of the user's tasks that pass the filter, in
// its order, and how many pass it in all. The count and the page are read
// in one read-only transaction, so they agree.
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
	key := f.Sort
	if key == "" {
		key = SortCreatedAt
	}
	order, ok := orderBy[key]
	if !ok {
		return nil, 0, fmt.Errorf("list tasks: unknown sort key %q", key)
	}
	if key == SortTitle && s.db.Dialect == database.Postgres {
		order = titleOrderPG
	}
	dir := 0
	if f.Desc {
		dir = 1
	}

	tasks := make([]Task, 0, f.Limit)
	var total int64
	err := s.snapshot(ctx, func(ctx context.Context, db bun.IDB) error {
		n, err := f.where(db.NewSelect().Model((*Task)(nil)), userID).Count(ctx)
		if err != nil {
			return fmt.Errorf("count tasks of user %s: %w", userID, err)
		}
		total = n
		if n <= f.Offset {
			return nil
		}
		err = f.where(db.NewSelect().Model(&tasks), userID).
			OrderExpr(order[dir]).
			Limit(int64(f.Limit)).Offset(f.Offset).
			Scan(ctx)
		if err != nil {
			return fmt.Errorf("list tasks of user %s: %w", userID, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return tasks, total, nil
}
