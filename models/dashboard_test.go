package models_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/migrator"
	"github.com/todo-app/todo/models"
)

// dashEnv is a migrated database of one engine with its store.
type dashEnv struct {
	engine database.Dialect
	db     *database.DB
	store  *models.Store
}

func dashOpen(tb testing.TB, d database.Dialect) *dashEnv {
	tb.Helper()
	db := dbtest.Open(tb, d)
	m, err := migrator.New(db)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return &dashEnv{engine: d, db: db, store: models.NewStore(db)}
}

// dashEach runs fn on a fresh database of every engine, in parallel.
func dashEach(t *testing.T, fn func(t *testing.T, e *dashEnv)) {
	t.Helper()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, dashOpen(t, d))
		})
	}
}

var dashEpoch = models.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

func (e *dashEnv) user(tb testing.TB, id string) string {
	tb.Helper()
	u := &models.User{ID: id, Name: id, Email: id + "@example.com", CreatedAt: dashEpoch, UpdatedAt: dashEpoch}
	if err := e.store.CreateUser(context.Background(), u, models.NewCredentialAccount("acct-"+id, id, "hash", dashEpoch)); err != nil {
		tb.Fatal(err)
	}
	return id
}

// dashDefaults fills what the schema requires and a test rarely cares about.
func dashDefaults(task *models.Task) {
	if task.Title == "" {
		task.Title = "task"
	}
	if task.Priority == 0 {
		task.Priority = models.PriorityMedium
	}
	if task.Version == 0 {
		task.Version = 1
	}
	if task.CreatedAt.IsZero() {
		task.CreatedAt = dashEpoch
	}
	if task.UpdatedAt.IsZero() {
		task.UpdatedAt = task.CreatedAt
	}
}

// insert writes the tasks one by one, so their ids follow the argument order.
func (e *dashEnv) insert(tb testing.TB, tasks ...*models.Task) {
	tb.Helper()
	for _, task := range tasks {
		dashDefaults(task)
		if _, err := e.db.Write.NewInsert().Model(task).Exec(context.Background()); err != nil {
			tb.Fatalf("insert %+v: %v", task, err)
		}
	}
}

func dashStr(s string) *string { return &s }

func dashAt(t time.Time) *models.Time {
	v := models.NewTime(t)
	return &v
}

func dashUTC(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func dashLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

func TestDashboardTaskStats(t *testing.T) {
	dashEach(t, func(t *testing.T, e *dashEnv) {
		ctx := context.Background()
		now := dashUTC("2026-03-10T12:00:00Z")
		past, soon := dashAt(now.Add(-48*time.Hour)), dashAt(now.Add(time.Hour))
		alice, bob := e.user(t, "alice"), e.user(t, "bob")
		work, home := dashStr("work"), dashStr("home")

		e.insert(t,
			// completed: never overdue, even when the due date passed
			&models.Task{UserID: alice, Priority: models.PriorityLow, Category: work, Status: true, CompletedAt: past, DueDate: past},
			// pending and due a millisecond ago: overdue
			&models.Task{UserID: alice, Priority: models.PriorityLow, Category: work, DueDate: dashAt(now.Add(-time.Millisecond))},
			// pending and due exactly now: not overdue
			&models.Task{UserID: alice, Priority: models.PriorityMedium, DueDate: dashAt(now)},
			// pending without a due date
			&models.Task{UserID: alice, Priority: models.PriorityMedium, Category: home},
			&models.Task{UserID: alice, Priority: models.PriorityHigh, Category: home, Status: true, CompletedAt: past},
			&models.Task{UserID: alice, Priority: models.PriorityHigh, Category: work, DueDate: soon},
			&models.Task{UserID: alice, Priority: models.PriorityHigh, Status: true, CompletedAt: past, DueDate: past},
			// categories are exact: "Work" is not "work"
			&models.Task{UserID: alice, Priority: models.PriorityMedium, Category: dashStr("Work")},
		)
		// Bob's tasks would change every number if they leaked into Alice's.
		for i := 0; i < 3; i++ {
			e.insert(t,
				&models.Task{UserID: bob, Priority: models.PriorityLow, Category: work, Status: true, CompletedAt: past},
				&models.Task{UserID: bob, Priority: models.PriorityHigh, DueDate: past},
				&models.Task{UserID: bob, Priority: models.PriorityMedium, Category: dashStr("bob only"), DueDate: past},
			)
		}

		got, err := e.store.TaskStats(ctx, alice, models.NewTime(now))
		if err != nil {
			t.Fatal(err)
		}
		want := &models.Stats{
			TotalTasks: 8, CompletedTasks: 3, PendingTasks: 5, CompletionRate: 37.5, OverdueTasks: 1,
			ByPriority: models.PriorityStats{
				Low:    models.Counts{Total: 2, Completed: 1},
				Medium: models.Counts{Total: 3, Completed: 0},
				High:   models.Counts{Total: 3, Completed: 2},
			},
			// total descending; ties by name with the uncategorized last
			ByCategory: []models.CategoryStats{
				{Category: work, Total: 3, Completed: 1},
				{Category: home, Total: 2, Completed: 1},
				{Category: nil, Total: 2, Completed: 1},
				{Category: dashStr("Work"), Total: 1, Completed: 0},
			},
		}
		dashSameStats(t, got, want)

		raw, _ := json.Marshal(got)
		wantJSON := `{"total_tasks":8,"completed_tasks":3,"pending_tasks":5,"completion_rate":37.5,"overdue_tasks":1,` +
			`"by_priority":{"low":{"total":2,"completed":1},"medium":{"total":3,"completed":0},"high":{"total":3,"completed":2}},` +
			`"by_category":[{"category":"work","total":3,"completed":1},{"category":"home","total":2,"completed":1},` +
			`{"category":null,"total":2,"completed":1},{"category":"Work","total":1,"completed":0}]}`
		if string(raw) != wantJSON {
			t.Errorf("JSON\n got %s\nwant %s", raw, wantJSON)
		}

		// Bob sees only his own.
		got, err = e.store.TaskStats(ctx, bob, models.NewTime(now))
		if err != nil {
			t.Fatal(err)
		}
		if got.TotalTasks != 9 || got.CompletedTasks != 3 || got.OverdueTasks != 6 || len(got.ByCategory) != 3 {
			t.Errorf("bob: %+v", got)
		}

		// Nobody's tasks: zeros everywhere and an empty (not null) list.
		e.user(t, "carol")
		got, err = e.store.TaskStats(ctx, "carol", models.NewTime(now))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = json.Marshal(got)
		wantJSON = `{"total_tasks":0,"completed_tasks":0,"pending_tasks":0,"completion_rate":0,"overdue_tasks":0,` +
			`"by_priority":{"low":{"total":0,"completed":0},"medium":{"total":0,"completed":0},"high":{"total":0,"completed":0}},` +
			`"by_category":[]}`
		if string(raw) != wantJSON {
			t.Errorf("empty JSON\n got %s\nwant %s", raw, wantJSON)
		}
	})
}

func dashSameStats(t *testing.T, got, want *models.Stats) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("stats\n got %s\nwant %s", g, w)
	}
}

func TestDashboardCompletionRate(t *testing.T) {
	dashEach(t, func(t *testing.T, e *dashEnv) {
		ctx := context.Background()
		cases := []struct {
			total, completed int
			rate             float64
			json             string
		}{
			{0, 0, 0, "0"},
			{3, 1, 33.3, "33.3"},
			{3, 2, 66.7, "66.7"},
			{6, 1, 16.7, "16.7"},
			{8, 1, 12.5, "12.5"},
			{16, 1, 6.3, "6.3"}, // 6.25 rounds half up
			{7, 0, 0, "0"},
			{4, 4, 100, "100"},
			{1000, 999, 99.9, "99.9"},
			{2000, 1999, 100, "100"}, // 99.95 rounds up
		}
		for i, c := range cases {
			id := e.user(t, fmt.Sprintf("rate%d", i))
			tasks := make([]models.Task, c.total)
			for j := range tasks {
				tasks[j] = models.Task{UserID: id}
				if j < c.completed {
					tasks[j].Status, tasks[j].CompletedAt = true, dashAt(dashEpoch.Time)
				}
				dashDefaults(&tasks[j])
			}
			if c.total > 0 {
				if _, err := e.db.Write.NewInsert().Model(&tasks).Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
			st, err := e.store.TaskStats(ctx, id, models.NewTime(dashEpoch.Time))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(st)
			if st.CompletionRate != c.rate || !strings.Contains(string(raw), `"completion_rate":`+c.json+`,`) {
				t.Errorf("%d/%d: rate %v, JSON %s; want %v", c.completed, c.total, st.CompletionRate, raw, c.json)
			}
		}
	})
}

func dashIDs(tasks []models.Task) []int64 {
	ids := make([]int64, len(tasks))
	for i, task := range tasks {
		ids[i] = task.ID
	}
	return ids
}

func TestDashboardRecentAndUpcomingTasks(t *testing.T) {
	dashEach(t, func(t *testing.T, e *dashEnv) {
		ctx := context.Background()
		now := dashUTC("2026-03-10T12:00:00Z")
		at := func(d time.Duration) models.Time { return models.NewTime(now.Add(d)) }
		alice, bob := e.user(t, "alice"), e.user(t, "bob")

		// Recent: by updated_at descending, equal times by id descending.
		r := []*models.Task{
			{UserID: alice, UpdatedAt: at(-2 * time.Hour)},
			{UserID: alice, UpdatedAt: at(-time.Hour)},
			{UserID: alice, UpdatedAt: at(-time.Hour)},
			{UserID: alice, UpdatedAt: at(-3 * time.Hour)},
			{UserID: alice, UpdatedAt: at(0)},
			{UserID: alice, UpdatedAt: at(-4 * time.Hour)},
			{UserID: bob, UpdatedAt: at(time.Hour)},
		}
		e.insert(t, r...)
		recent, err := e.store.RecentTasks(ctx, alice, 5)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dashIDs(recent), []int64{r[4].ID, r[2].ID, r[1].ID, r[0].ID, r[3].ID}; !reflect.DeepEqual(got, want) {
			t.Errorf("recent = %v, want %v", got, want)
		}
		if recent[0].UserID != alice || recent[0].Version != 1 || !recent[0].UpdatedAt.Equal(now) {
			t.Errorf("recent[0] = %+v", recent[0])
		}

		due := func(d time.Duration) *models.Time { v := at(d); return &v }
		u := []*models.Task{
			{UserID: alice, DueDate: due(0)},                 // due exactly now: upcoming
			{UserID: alice, DueDate: due(-time.Millisecond)}, // overdue
			{UserID: alice, DueDate: due(time.Hour), Status: true, CompletedAt: due(-time.Hour)},
			{UserID: alice, DueDate: due(2 * time.Hour)},
			{UserID: alice, DueDate: due(2 * time.Hour)}, // same due date: by id
			{UserID: alice}, // no due date
			{UserID: alice, DueDate: due(24 * time.Hour)},
			{UserID: alice, DueDate: due(30 * 24 * time.Hour)},
			{UserID: alice, DueDate: due(31 * 24 * time.Hour)}, // sixth: beyond the limit
			{UserID: bob, DueDate: due(time.Millisecond)},
		}
		e.insert(t, u...)
		upcoming, err := e.store.UpcomingTasks(ctx, alice, models.NewTime(now), 5)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dashIDs(upcoming), []int64{u[0].ID, u[3].ID, u[4].ID, u[6].ID, u[7].ID}; !reflect.DeepEqual(got, want) {
			t.Errorf("upcoming = %v, want %v", got, want)
		}

		// A user without tasks gets empty lists, which encode as [].
		e.user(t, "carol")
		recent, err = e.store.RecentTasks(ctx, "carol", 5)
		if err != nil || recent == nil || len(recent) != 0 {
			t.Errorf("carol recent = %#v, %v", recent, err)
		}
		upcoming, err = e.store.UpcomingTasks(ctx, "carol", models.NewTime(now), 5)
		if err != nil || upcoming == nil || len(upcoming) != 0 {
			t.Errorf("carol upcoming = %#v, %v", upcoming, err)
		}
	})
}

func TestDashboardDayBoundaries(t *testing.T) {
	cases := []struct {
		name, zone, now string
		// want maps a date to its start (UTC) and its length
		want map[string]struct {
			start string
			hours int
		}
		first, last string
	}{
		{"new york fall back", "America/New_York", "2026-11-08T15:00:00Z", map[string]struct {
			start string
			hours int
		}{
			"2026-10-31": {"2026-10-31T04:00:00Z", 24},
			"2026-11-01": {"2026-11-01T04:00:00Z", 25},
			"2026-11-02": {"2026-11-02T05:00:00Z", 24},
		}, "2026-10-26", "2026-11-08"},
		{"new york spring forward", "America/New_York", "2026-03-12T16:00:00Z", map[string]struct {
			start string
			hours int
		}{
			"2026-03-08": {"2026-03-08T05:00:00Z", 23},
			"2026-03-09": {"2026-03-09T04:00:00Z", 24},
		}, "2026-02-27", "2026-03-12"},
		{"tokyo after utc midnight", "Asia/Tokyo", "2026-03-10T16:00:00Z", map[string]struct {
			start string
			hours int
		}{
			"2026-03-11": {"2026-03-10T15:00:00Z", 24},
		}, "2026-02-26", "2026-03-11"},
		// Havana's clocks jump from 00:00 to 01:00: the day starts at 01:00.
		{"havana skips midnight", "America/Havana", "2026-03-10T12:00:00Z", map[string]struct {
			start string
			hours int
		}{
			"2026-03-07": {"2026-03-07T05:00:00Z", 24},
			"2026-03-08": {"2026-03-08T05:00:00Z", 23},
			"2026-03-09": {"2026-03-09T04:00:00Z", 24},
		}, "2026-02-25", "2026-03-10"},
		{"utc", "UTC", "2026-12-31T23:59:59.999Z", nil, "2026-12-18", "2026-12-31"},
		{"kiritimati ahead of utc by 14 hours", "Pacific/Kiritimati", "2026-12-31T10:00:00Z", nil, "2026-12-19", "2027-01-01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loc := dashLoc(t, c.zone)
			dates, bounds := models.DayBoundaries(dashUTC(c.now), loc, models.DashboardDays)
			if len(dates) != 14 || len(bounds) != 15 {
				t.Fatalf("%d dates, %d bounds", len(dates), len(bounds))
			}
			if dates[0] != c.first || dates[13] != c.last {
				t.Errorf("dates %s .. %s, want %s .. %s", dates[0], dates[13], c.first, c.last)
			}
			for i, date := range dates {
				local := bounds[i].In(loc)
				if got := local.Format(models.DateLayout); got != date {
					t.Errorf("bound %d is %s local, on %s, want %s", i, local, got, date)
				}
				if prev := bounds[i].Add(-time.Millisecond).In(loc).Format(models.DateLayout); prev == date {
					t.Errorf("bound %d (%s) is not the first instant of %s", i, bounds[i], date)
				}
				if i > 0 {
					next, _ := time.Parse(models.DateLayout, dates[i-1])
					if next.AddDate(0, 0, 1).Format(models.DateLayout) != date {
						t.Errorf("dates %s, %s are not consecutive", dates[i-1], date)
					}
				}
				if w, ok := c.want[date]; ok {
					if got := bounds[i].UTC().Format(time.RFC3339); got != w.start {
						t.Errorf("%s starts at %s, want %s", date, got, w.start)
					}
					if got := bounds[i+1].Sub(bounds[i].Time); got != time.Duration(w.hours)*time.Hour {
						t.Errorf("%s lasts %s, want %dh", date, got, w.hours)
					}
				}
			}
			if now := dashUTC(c.now); now.Before(bounds[13].Time) || !now.Before(bounds[14].Time) {
				t.Errorf("now %s is not in the last day [%s, %s)", now, bounds[13], bounds[14])
			}
		})
	}
}

func TestDashboardCompletedPerDay(t *testing.T) {
	type completion struct {
		at   string
		user string
	}
	cases := []struct {
		name, zone, now string
		tasks           []completion
		want            map[string]int64 // date -> count; other days 0
	}{
		{
			name: "new york across the end of daylight saving", zone: "America/New_York", now: "2026-11-08T15:00:00Z",
			tasks: []completion{
				{"2026-01-01T00:00:00.000Z", ""},  // long before
				{"2026-10-26T03:59:59.999Z", ""},  // 2026-10-25 23:59:59.999 EDT: before the window
				{"2026-10-26T04:00:00.000Z", ""},  // the window's first instant
				{"2026-11-01T03:59:59.999Z", ""},  // 2026-10-31 23:59:59.999 EDT
				{"2026-11-01T04:00:00.000Z", ""},  // 2026-11-01 00:00 EDT
				{"2026-11-02T04:30:00.000Z", ""},  // 2026-11-01 23:30 EST, the 25th hour
				{"2026-11-02T05:00:00.000Z", ""},  // 2026-11-02 00:00 EST
				{"2026-11-03T12:00:00.000Z", "x"}, // another user's
				{"2026-11-08T15:00:00.000Z", ""},  // now
				{"2026-11-09T04:59:59.999Z", ""},  // today 23:59:59.999 EST
				{"2026-11-09T05:00:00.000Z", ""},  // tomorrow
				{"2026-12-01T00:00:00.000Z", ""},  // weeks ahead
			},
			want: map[string]int64{"2026-10-26": 1, "2026-10-31": 1, "2026-11-01": 2, "2026-11-02": 1, "2026-11-08": 2},
		},
		{
			name: "new york across the start of daylight saving", zone: "America/New_York", now: "2026-03-12T16:00:00Z",
			tasks: []completion{
				{"2026-03-08T06:59:59.999Z", ""}, // 2026-03-08 01:59:59.999 EST
				{"2026-03-08T07:00:00.000Z", ""}, // 2026-03-08 03:00 EDT
				{"2026-03-09T03:30:00.000Z", ""}, // 2026-03-08 23:30 EDT
				{"2026-03-09T04:30:00.000Z", ""}, // 2026-03-09 00:30 EDT: a 24-hour day would miss it
			},
			want: map[string]int64{"2026-03-08": 3, "2026-03-09": 1},
		},
		{
			name: "tokyo", zone: "Asia/Tokyo", now: "2026-03-10T16:00:00Z", // 2026-03-11 01:00 JST
			tasks: []completion{
				{"2026-02-25T14:59:59.999Z", ""}, // 2026-02-25 23:59:59.999 JST: before the window
				{"2026-02-25T15:00:00.000Z", ""}, // 2026-02-26 00:00 JST
				{"2026-03-10T14:59:59.999Z", ""}, // 2026-03-10 23:59:59.999 JST
				{"2026-03-10T15:00:00.000Z", ""}, // 2026-03-11 00:00 JST
			},
			want: map[string]int64{"2026-02-26": 1, "2026-03-10": 1, "2026-03-11": 1},
		},
		{
			name: "the same instants in utc", zone: "UTC", now: "2026-03-10T16:00:00Z",
			tasks: []completion{
				{"2026-02-24T23:59:59.999Z", ""},
				{"2026-02-25T14:59:59.999Z", ""},
				{"2026-02-25T15:00:00.000Z", ""},
				{"2026-03-10T14:59:59.999Z", ""},
				{"2026-03-10T15:00:00.000Z", ""},
				{"2026-03-11T00:00:00.000Z", ""},
			},
			want: map[string]int64{"2026-02-25": 2, "2026-03-10": 2},
		},
	}
	dashEach(t, func(t *testing.T, e *dashEnv) {
		ctx := context.Background()
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				owner := e.user(t, fmt.Sprintf("owner%d", i))
				other := e.user(t, fmt.Sprintf("other%d", i))
				loc := dashLoc(t, c.zone)
				now := dashUTC(c.now)
				owned := int64(1) // the pending task below
				for _, done := range c.tasks {
					user := owner
					if done.user != "" {
						user = other
					} else {
						owned++
					}
					e.insert(t, &models.Task{UserID: user, Status: true, CompletedAt: dashAt(dashUTC(done.at))})
				}
				// Pending tasks never count, whatever their dates.
				e.insert(t, &models.Task{UserID: owner, DueDate: dashAt(now), UpdatedAt: models.NewTime(now), CreatedAt: models.NewTime(now)})

				dates, bounds := models.DayBoundaries(now, loc, models.DashboardDays)
				counts, err := e.store.CompletedPerDay(ctx, owner, bounds)
				if err != nil {
					t.Fatal(err)
				}
				ov, err := e.store.Overview(ctx, owner, models.NewTime(now), loc)
				if err != nil {
					t.Fatal(err)
				}
				if len(counts) != 14 || len(ov.CompletedPerDay) != 14 {
					t.Fatalf("%d counts, %d overview days", len(counts), len(ov.CompletedPerDay))
				}
				for j, date := range dates {
					if counts[j] != c.want[date] {
						t.Errorf("%s: %d completed, want %d", date, counts[j], c.want[date])
					}
					if got := ov.CompletedPerDay[j]; got != (models.DayCount{Date: date, Count: c.want[date]}) {
						t.Errorf("overview day %d = %+v, want %s: %d", j, got, date, c.want[date])
					}
				}
				if ov.Stats.TotalTasks != owned {
					t.Errorf("overview stats = %+v", ov.Stats)
				}
			})
		}
	})
}

func TestDashboardOverview(t *testing.T) {
	dashEach(t, func(t *testing.T, e *dashEnv) {
		ctx := context.Background()
		now := models.NewTime(dashUTC("2026-03-10T12:00:00Z"))
		alice, bob := e.user(t, "alice"), e.user(t, "bob")
		due := dashAt(now.Add(time.Hour))
		for i := 0; i < 7; i++ {
			e.insert(t, &models.Task{UserID: alice, Title: fmt.Sprintf("a%d", i), DueDate: due,
				UpdatedAt: models.NewTime(now.Add(time.Duration(i) * time.Minute))})
		}
		e.insert(t, &models.Task{UserID: bob, DueDate: due, UpdatedAt: models.NewTime(now.Add(time.Hour))})

		ov, err := e.store.Overview(ctx, alice, now, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		stats, err := e.store.TaskStats(ctx, alice, now)
		if err != nil {
			t.Fatal(err)
		}
		dashSameStats(t, ov.Stats, stats)
		if len(ov.RecentTasks) != 5 || ov.RecentTasks[0].Title != "a6" || len(ov.UpcomingTasks) != 5 || ov.UpcomingTasks[0].Title != "a0" {
			t.Errorf("recent %v, upcoming %v", dashIDs(ov.RecentTasks), dashIDs(ov.UpcomingTasks))
		}
		for _, task := range append(ov.RecentTasks, ov.UpcomingTasks...) {
			if task.UserID != alice {
				t.Errorf("overview of alice holds %+v", task)
			}
		}
		raw, _ := json.Marshal(ov)
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(raw, &keys)
		if len(keys) != 4 || keys["stats"] == nil || keys["recent_tasks"] == nil || keys["upcoming_tasks"] == nil || keys["completed_per_day"] == nil {
			t.Errorf("overview JSON keys: %s", raw)
		}

		_, err = e.store.CompletedPerDay(ctx, alice, []models.Time{now})
		if err == nil {
			t.Error("CompletedPerDay accepted a single bound")
		}
	})
}

// dashSeed gives user n tasks of every kind (priorities, categories with
// and without, completed, overdue, upcoming, undated), written in batches in
// one transaction.
func dashSeed(tb testing.TB, e *dashEnv, user string, n int, now time.Time) {
	tb.Helper()
	categories := []*string{nil, dashStr("work"), dashStr("home"), dashStr("errands"), dashStr("health"), dashStr("finance"), dashStr("study")}
	day := 24 * time.Hour
	err := e.db.Write.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		for start := 0; start < n; start += 1000 {
			batch := make([]models.Task, 0, 1000)
			for i := start; i < min(start+1000, n); i++ {
				created := now.Add(-time.Duration(i%90)*day - time.Duration(i%1440)*time.Minute)
				task := models.Task{
					UserID:    user,
					Title:     fmt.Sprintf("%s task %d", user, i),
					Priority:  i%3 + 1,
					Category:  categories[i%len(categories)],
					CreatedAt: models.NewTime(created),
					UpdatedAt: models.NewTime(created.Add(time.Duration(i%600) * time.Minute)),
					Version:   1,
				}
				if i%4 != 0 {
					task.DueDate = dashAt(now.Add(time.Duration(i%120-60)*day + time.Duration(i%24)*time.Hour))
				}
				if i%5 < 2 {
					task.Status = true
					task.CompletedAt = dashAt(now.Add(-time.Duration(i%30)*day - time.Duration(i%24)*time.Hour))
				}
				batch = append(batch, task)
			}
			if _, err := tx.NewInsert().Model(&batch).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// dashBigDB is a database where user "target" holds perUser tasks among
// others users' tasks, with planner statistics up to date on PostgreSQL.
func dashBigDB(tb testing.TB, d database.Dialect, users, perUser int, now time.Time) *dashEnv {
	tb.Helper()
	e := dashOpen(tb, d)
	dashSeed(tb, e, e.user(tb, "target"), perUser, now)
	for i := 1; i < users; i++ {
		dashSeed(tb, e, e.user(tb, fmt.Sprintf("other%d", i)), perUser, now)
	}
	if d == database.Postgres {
		if _, err := e.db.Write.DB.ExecContext(context.Background(), "ANALYZE task"); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

// dashQueryLog records every SELECT a bun.DB sends.
type dashQueryLog struct {
	mu      sync.Mutex
	queries []string
}

func (l *dashQueryLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (l *dashQueryLog) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	if strings.HasPrefix(ev.Query, "SELECT") {
		l.mu.Lock()
		l.queries = append(l.queries, ev.Query)
		l.mu.Unlock()
	}
}

// TestDashboardQueryPlans explains every query the overview sends (which
// include both stats queries and the completed-per-day query) and fails on a
// full scan of the task table. Run with -v to see the plans.
func TestDashboardQueryPlans(t *testing.T) {
	names := []string{"stats: counts", "stats: overdue", "recent tasks", "upcoming tasks", "completed per day"}
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Now()
			e := dashBigDB(t, d, 10, 2000, now)

			log := &dashQueryLog{}
			traced := *e.db
			traced.Read = e.db.Read.WithQueryHook(log)
			if _, err := models.NewStore(&traced).Overview(ctx, "target", models.NewTime(now), dashLoc(t, "America/New_York")); err != nil {
				t.Fatal(err)
			}
			if len(log.queries) != len(names) {
				t.Fatalf("overview sent %d queries, want %d: %q", len(log.queries), len(names), log.queries)
			}
			for i, q := range log.queries {
				plan := dashExplain(t, e, q)
				t.Logf("%s — %s\n%s\n%s", d, names[i], q, plan)
				if !strings.Contains(q, "user_id") {
					t.Errorf("%s: no user_id filter", names[i])
				}
				switch d {
				case database.SQLite:
					if !strings.Contains(plan, "SEARCH") || dashSQLiteScan.MatchString(plan) {
						t.Errorf("%s: not an index search:\n%s", names[i], plan)
					}
				case database.Postgres:
					if strings.Contains(plan, "Seq Scan") || !dashPGIndex.MatchString(plan) {
						t.Errorf("%s: not an index scan:\n%s", names[i], plan)
					}
				}
			}
		})
	}
}

// dashSQLiteScan matches a plan line reading a whole table; dashPGIndex an
// index scan of one of the indexes that lead with user_id.
var (
	dashSQLiteScan = regexp.MustCompile(`(?m)^\s*SCAN (t|task|task_count|task_due_count)(\s|$)`)
	dashPGIndex    = regexp.MustCompile(`(Index (Only )?Scan (Backward )?using|Bitmap Index Scan on) (task_user_\w+|task_count_pkey|task_due_count_pkey)`)
)

// dashExplain returns the plan of a query exactly as bun sent it (values
// inlined), through the driver directly so nothing reformats it.
func dashExplain(t *testing.T, e *dashEnv, query string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	if e.engine == database.SQLite {
		rows, err := e.db.Read.DB.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		depth := map[int]int{}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			depth[id] = depth[parent] + 1
			lines = append(lines, strings.Repeat("  ", depth[id])+detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	rows, err := e.db.Read.DB.QueryContext(ctx, "EXPLAIN "+database.Rebind(e.engine, query), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, "  "+line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// BenchmarkTaskStats times the stats of one user holding 10,000 tasks in a
// table of 50,000 (four other users hold the rest).
func BenchmarkTaskStats(b *testing.B) {
	now := time.Now()
	for _, d := range dbtest.Dialects {
		e := dashBigDB(b, d, 5, 10000, now)
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				st, err := e.store.TaskStats(ctx, "target", models.NewTime(now))
				if err != nil {
					b.Fatal(err)
				}
				if st.TotalTasks != 10000 {
					b.Fatalf("total %d", st.TotalTasks)
				}
			}
		})
	}
}

// BenchmarkDashboardOverview times the whole overview (five queries in one
// read transaction) on the same data.
func BenchmarkDashboardOverview(b *testing.B) {
	now := time.Now()
	loc, _ := time.LoadLocation("America/New_York")
	for _, d := range dbtest.Dialects {
		e := dashBigDB(b, d, 5, 10000, now)
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if _, err := e.store.Overview(ctx, "target", models.NewTime(now), loc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
