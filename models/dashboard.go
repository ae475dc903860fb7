package models

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/uptrace/bun"
)

// Sizes of the dashboard overview's lists (SPEC §5).
const (
	DashboardRecentTasks   = 5
	DashboardUpcomingTasks = 5
	DashboardDays          = 14
)

// DateLayout is how the dashboard writes calendar days.
const DateLayout = "2006-01-02"

// Stats is the dashboard's summary of one user's tasks; its JSON form is the
// body of GET /api/dashboard/stats.
type Stats struct {
	TotalTasks     int64 `json:"total_tasks"`
	CompletedTasks int64 `json:"completed_tasks"`
	PendingTasks   int64 `json:"pending_tasks"`
	// CompletionRate is completed/total as a percentage rounded half up to
	// one decimal (1/3 -> 33.3, 2/3 -> 66.7); 0 when there are no tasks.
	CompletionRate float64 `json:"completion_rate"`
	// OverdueTasks counts pending tasks due strictly before now.
	OverdueTasks int64         `json:"overdue_tasks"`
	ByPriority   PriorityStats `json:"by_priority"`
	// ByCategory has one entry per distinct category (exact match), largest
	// total first, equal totals by name compared byte-wise, the uncategorized
	// entry (category null) last among equals; [] when there are no tasks.
	ByCategory []CategoryStats `json:"by_category"`
}

// PriorityStats has every priority, even those without tasks.
type PriorityStats struct {
	Low    Counts `json:"low"`
	Medium Counts `json:"medium"`
	High   Counts `json:"high"`
}

// Counts is how many tasks a group holds and how many of them are done.
type Counts struct {
	Total     int64 `json:"total"`
	Completed int64 `json:"completed"`
}

// CategoryStats counts one category's tasks; Category is nil for the tasks
// without one.
type CategoryStats struct {
	Category  *string `bun:"category" json:"category"`
	Total     int64   `bun:"total" json:"total"`
	Completed int64   `bun:"completed" json:"completed"`
}

// DayCount is how many tasks were completed on one calendar day.
type DayCount struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

// Overview is the body of GET /api/dashboard/overview.
type Overview struct {
	Stats           *Stats     `json:"stats"`
	RecentTasks     []Task     `json:"recent_tasks"`
	UpcomingTasks   []Task     `json:"upcoming_tasks"`
	CompletedPerDay []DayCount `json:"completed_per_day"`
}

// snapshot runs fn on one read-only transaction, so the several queries of a
// dashboard answer agree with each other (by_category sums to total_tasks even
// while the user edits tasks): a WAL read transaction on SQLite, REPEATABLE
// READ on PostgreSQL.
func (s *Store) snapshot(ctx context.Context, fn func(ctx context.Context, db bun.IDB) error) error {
	opts := &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	return s.db.Read.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
		return fn(ctx, tx)
	})
}

// TaskStats summarizes the user's tasks from the per-user counts the
// database keeps (migration 6): it reads one row per status, priority and
// category in use and one per day with pending tasks due, whatever the
// number of tasks.
func (s *Store) TaskStats(ctx context.Context, userID string, now Time) (*Stats, error) {
	var st *Stats
	err := s.snapshot(ctx, func(ctx context.Context, db bun.IDB) error {
		var err error
		st, err = taskStats(ctx, db, userID, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// taskCountRow is one row of task_count.
type taskCountRow struct {
	Status      bool   `bun:"status"`
	Priority    int    `bun:"priority"`
	HasCategory bool   `bun:"has_category"`
	Category    string `bun:"category"`
	N           int64  `bun:"n"`
}

func taskStats(ctx context.Context, db bun.IDB, userID string, now Time) (*Stats, error) {
	var rows []taskCountRow
	err := db.NewRaw(`SELECT "status", "priority", "has_category", "category", "n" FROM "task_count" WHERE "user_id" = ?`, userID).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count tasks of user %s: %w", userID, err)
	}
	overdue, err := overdueTasks(ctx, db, userID, now)
	if err != nil {
		return nil, err
	}

	st := &Stats{OverdueTasks: overdue, ByCategory: make([]CategoryStats, 0)}
	// Index in ByCategory by (has a category, name): "" is a category of
	// its own, apart from the tasks without one.
	type categoryKey struct {
		has  bool
		name string
	}
	byCategory := make(map[categoryKey]int)
	for _, r := range rows {
		var done int64
		if r.Status {
			done = r.N
		}
		st.TotalTasks += r.N
		st.CompletedTasks += done
		var group *Counts
		switch r.Priority {
		case PriorityLow:
			group = &st.ByPriority.Low
		case PriorityMedium:
			group = &st.ByPriority.Medium
		case PriorityHigh:
			group = &st.ByPriority.High
		}
		if group != nil {
			group.Total += r.N
			group.Completed += done
		}
		key := categoryKey{r.HasCategory, r.Category}
		i, seen := byCategory[key]
		if !seen {
			i = len(st.ByCategory)
			byCategory[key] = i
			entry := CategoryStats{}
			if r.HasCategory {
				entry.Category = &r.Category
			}
			st.ByCategory = append(st.ByCategory, entry)
		}
		st.ByCategory[i].Total += r.N
		st.ByCategory[i].Completed += done
	}
	st.PendingTasks = st.TotalTasks - st.CompletedTasks
	st.CompletionRate = completionRate(st.CompletedTasks, st.TotalTasks)
	sortCategories(st.ByCategory)
	return st, nil
}

// overdueTasks counts the user's pending tasks due before now: the days
// before today (UTC) from task_due_count, today's tasks from the task table
// through task_user_status_due_date_idx. Its cost is bounded by the days
// with pending tasks due and the tasks due today, not by the task count.
func overdueTasks(ctx context.Context, db bun.IDB, userID string, now Time) (int64, error) {
	y, m, d := now.UTC().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	var overdue int64
	err := db.NewRaw(`SELECT (SELECT CAST(coalesce(sum("n"), 0) AS bigint) FROM "task_due_count" WHERE "user_id" = ? AND "due_day" < ?)`+
		` + (SELECT count(*) FROM "task" WHERE "user_id" = ? AND "status" = ? AND "due_date" >= ? AND "due_date" < ?)`,
		userID, today.Format(DateLayout), userID, false, NewTime(today), now).
		Scan(ctx, &overdue)
	if err != nil {
		return 0, fmt.Errorf("count overdue tasks of user %s: %w", userID, err)
	}
	return overdue, nil
}

// sortCategories orders the largest categories first; equal totals go by
// category name compared byte-wise, with the uncategorized group last. The
// sort happens here rather than in SQL because the engines' collations
// order text differently (PostgreSQL follows the database's locale).
func sortCategories(cs []CategoryStats) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Total != b.Total {
			return a.Total > b.Total
		}
		if a.Category == nil || b.Category == nil {
			return b.Category == nil && a.Category != nil
		}
		return *a.Category < *b.Category
	})
}

// completionRate is completed/total in percent, rounded half up to one
// decimal in integer arithmetic so no binary fraction tips a rounding.
func completionRate(completed, total int64) float64 {
	if total <= 0 {
		return 0
	}
	tenths := (completed*2000 + total) / (2 * total)
	return float64(tenths) / 10
}

// RecentTasks returns the user's limit most recently updated tasks, newest
// first, ties broken by id descending (the task_user_updated_at_idx order).
func (s *Store) RecentTasks(ctx context.Context, userID string, limit int) ([]Task, error) {
	return recentTasks(ctx, s.db.Read, userID, limit)
}

func recentTasks(ctx context.Context, db bun.IDB, userID string, limit int) ([]Task, error) {
	tasks := make([]Task, 0, limit)
	err := db.NewSelect().Model(&tasks).
		Where("?TableAlias.user_id = ?", userID).
		OrderExpr("?TableAlias.updated_at DESC, ?TableAlias.id DESC").
		Limit(int64(limit)).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load recent tasks of user %s: %w", userID, err)
	}
	return tasks, nil
}

// UpcomingTasks returns the user's next limit pending tasks due at or after
// now, soonest first, ties broken by id.
func (s *Store) UpcomingTasks(ctx context.Context, userID string, now Time, limit int) ([]Task, error) {
	return upcomingTasks(ctx, s.db.Read, userID, now, limit)
}

func upcomingTasks(ctx context.Context, db bun.IDB, userID string, now Time, limit int) ([]Task, error) {
	tasks := make([]Task, 0, limit)
	err := db.NewSelect().Model(&tasks).
		Where("?TableAlias.user_id = ?", userID).
		Where("?TableAlias.status = ?", false).
		Where("?TableAlias.due_date >= ?", now).
		OrderExpr("?TableAlias.due_date ASC, ?TableAlias.id ASC").
		Limit(int64(limit)).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load upcoming tasks of user %s: %w", userID, err)
	}
	return tasks, nil
}

// DayBoundaries splits the days calendar days in loc that end with the day
// holding now into ranges: dates[i] is the i-th day (oldest first) and it
// runs from bounds[i] up to, not including, bounds[i+1]; len(bounds) is
// days+1. Each bound is the start of a day in loc, so a day may last 23 or
// 25 hours across a daylight-saving change.
func DayBoundaries(now time.Time, loc *time.Location, days int) (dates []string, bounds []Time) {
	y, m, d := now.In(loc).Date()
	dates = make([]string, days)
	bounds = make([]Time, days+1)
	for i := 0; i <= days; i++ {
		day := d - days + 1 + i
		bounds[i] = NewTime(startOfDay(y, m, day, loc))
		if i < days {
			// Calendar arithmetic in UTC: the date cannot shift even when
			// midnight does not exist in loc.
			dates[i] = time.Date(y, m, day, 12, 0, 0, 0, time.UTC).Format(DateLayout)
		}
	}
	return dates, bounds
}

// startOfDay is the first instant of the day in loc (d may overflow the
// month, as time.Date allows). Where a daylight-saving change skips
// midnight (America/Havana, America/Santiago), time.Date answers with 23:00
// of the day before; the day then starts at that zone's end, the change.
func startOfDay(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	ty, tm, td := t.Date()
	if time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC).Before(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end
		}
	}
	return t
}

// CompletedPerDay counts the user's tasks whose completed_at falls in each
// range [bounds[i], bounds[i+1]), in one query with a conditional count per
// range, restricted to [bounds[0], bounds[last]) so only that slice of
// task_user_completed_at_idx is read. completed_at is set exactly when a
// task is completed, so it alone decides.
func (s *Store) CompletedPerDay(ctx context.Context, userID string, bounds []Time) ([]int64, error) {
	return completedPerDay(ctx, s.db.Read, userID, bounds)
}

func completedPerDay(ctx context.Context, db bun.IDB, userID string, bounds []Time) ([]int64, error) {
	if len(bounds) < 2 {
		return nil, fmt.Errorf("completed per day: need at least 2 bounds, got %d", len(bounds))
	}
	n := len(bounds) - 1
	counts := make([]int64, n)
	dest := make([]any, n)
	q := db.NewSelect().Model((*Task)(nil))
	for i := range n {
		q = q.ColumnExpr("COUNT(CASE WHEN ?TableAlias.completed_at >= ? AND ?TableAlias.completed_at < ? THEN 1 END)",
			bounds[i], bounds[i+1])
		dest[i] = &counts[i]
	}
	err := q.
		Where("?TableAlias.user_id = ?", userID).
		Where("?TableAlias.completed_at >= ?", bounds[0]).
		Where("?TableAlias.completed_at < ?", bounds[n]).
		Scan(ctx, dest...)
	if err != nil {
		return nil, fmt.Errorf("count completed tasks of user %s per day: %w", userID, err)
	}
	return counts, nil
}

// Overview gathers the whole dashboard of the user in one read snapshot:
// the stats, the recent and upcoming tasks, and the tasks completed on each
// of the last DashboardDays days in loc, ending with today.
func (s *Store) Overview(ctx context.Context, userID string, now Time, loc *time.Location) (*Overview, error) {
	dates, bounds := DayBoundaries(now.Time, loc, DashboardDays)
	out := &Overview{}
	err := s.snapshot(ctx, func(ctx context.Context, db bun.IDB) error {
		var err error
		if out.Stats, err = taskStats(ctx, db, userID, now); err != nil {
			return err
		}
		if out.RecentTasks, err = recentTasks(ctx, db, userID, DashboardRecentTasks); err != nil {
			return err
		}
		if out.UpcomingTasks, err = upcomingTasks(ctx, db, userID, now, DashboardUpcomingTasks); err != nil {
			return err
		}
		counts, err := completedPerDay(ctx, db, userID, bounds)
		if err != nil {
			return err
		}
		out.CompletedPerDay = make([]DayCount, len(dates))
		for i, date := range dates {
			out.CompletedPerDay[i] = DayCount{Date: date, Count: counts[i]}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
