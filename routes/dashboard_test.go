package routes_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/todo-app/todo/app/server/servertest"
	"github.com/todo-app/todo/models"
)

// dashSignUp makes a signed-in client and returns it with the user's id.
func dashSignUp(t *testing.T, srv *servertest.Server, email string) (*servertest.Client, string) {
	t.Helper()
	c := srv.Client(t)
	r := c.SignUp("Dash User", email, "correct horse battery")
	id, _ := r.JSON()["user"].(map[string]any)["id"].(string)
	if id == "" {
		t.Fatalf("sign up: no user id in %s", r.Body)
	}
	return c, id
}

// dashInsert writes tasks straight to the database, filling what the schema
// requires.
func dashInsert(t *testing.T, srv *servertest.Server, tasks ...*models.Task) {
	t.Helper()
	now := models.Now()
	for _, task := range tasks {
		if task.Title == "" {
			task.Title = "task"
		}
		if task.Priority == 0 {
			task.Priority = models.PriorityMedium
		}
		task.Version = 1
		if task.CreatedAt.IsZero() {
			task.CreatedAt = now
		}
		if task.UpdatedAt.IsZero() {
			task.UpdatedAt = task.CreatedAt
		}
		if _, err := srv.DB.Write.NewInsert().Model(task).Exec(context.Background()); err != nil {
			t.Fatalf("insert task: %v", err)
		}
	}
}

func dashGet(t *testing.T, c *servertest.Client, path string, want int) (*servertest.Response, map[string]any) {
	t.Helper()
	r := c.Request("GET", path, nil, nil)
	if r.Status != want {
		t.Fatalf("GET %s: %d %s, want %d", path, r.Status, r.Body, want)
	}
	if want == http.StatusOK {
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", path, got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("GET %s: Content-Type %q", path, got)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, r.Body)
	}
	return r, body
}

// dashRawStats is the overview's stats object exactly as it was sent.
func dashRawStats(t *testing.T, r *servertest.Response) string {
	t.Helper()
	var body struct {
		Stats json.RawMessage `json:"stats"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	return string(body.Stats)
}

func dashAt(t time.Time) *models.Time {
	v := models.NewTime(t)
	return &v
}

func dashStr(s string) *string { return &s }

var dashStatsKeys = []string{"total_tasks", "completed_tasks", "pending_tasks", "completion_rate", "overdue_tasks", "by_priority", "by_category"}

var dashTaskKeys = []string{"id", "title", "description", "status", "category", "priority", "due_date", "completed_at",
	"version", "created_at", "updated_at", "user_id"}

// dashCheckStatsShape checks every key of a stats object and its parts.
func dashCheckStatsShape(t *testing.T, stats map[string]any) {
	t.Helper()
	wantKeys(t, stats, dashStatsKeys...)
	byPriority, _ := stats["by_priority"].(map[string]any)
	wantKeys(t, byPriority, "low", "medium", "high")
	for _, p := range []string{"low", "medium", "high"} {
		counts, _ := byPriority[p].(map[string]any)
		wantKeys(t, counts, "total", "completed")
	}
	byCategory, ok := stats["by_category"].([]any)
	if !ok {
		t.Fatalf("by_category is %T, want an array", stats["by_category"])
	}
	for _, c := range byCategory {
		wantKeys(t, c.(map[string]any), "category", "total", "completed")
	}
}

// dashCheckDays checks completed_per_day: 14 consecutive days ending today
// in loc (today as of just before or just after the request).
func dashCheckDays(t *testing.T, days []any, loc *time.Location, before, after time.Time) map[string]float64 {
	t.Helper()
	if len(days) != 14 {
		t.Fatalf("%d days, want 14", len(days))
	}
	counts := map[string]float64{}
	var prev time.Time
	for i, d := range days {
		day := d.(map[string]any)
		wantKeys(t, day, "date", "count")
		date, err := time.Parse(models.DateLayout, day["date"].(string))
		if err != nil {
			t.Fatalf("day %d: %v", i, err)
		}
		if i > 0 && !date.Equal(prev.AddDate(0, 0, 1)) {
			t.Errorf("day %d is %s after %s", i, day["date"], prev.Format(models.DateLayout))
		}
		prev = date
		counts[day["date"].(string)] = day["count"].(float64)
	}
	last := days[13].(map[string]any)["date"]
	if last != before.In(loc).Format(models.DateLayout) && last != after.In(loc).Format(models.DateLayout) {
		t.Errorf("last day %s is not today in %s (%s)", last, loc, after.In(loc))
	}
	return counts
}

func TestDashboardRequiresSignIn(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		anon := srv.Client(t)
		for _, path := range []string{"/api/dashboard/stats", "/api/dashboard/overview", "/api/dashboard/overview?tz=Not/AZone"} {
			r, body := dashGet(t, anon, path, http.StatusUnauthorized)
			if r.Header.Get("Content-Type") != "application/problem+json" || body["status"] != float64(401) {
				t.Errorf("GET %s: %s %s", path, r.Header.Get("Content-Type"), r.Body)
			}
		}
		// A token that matches no session is no better.
		anon.Bearer = "00000000000000000000000000000000"
		dashGet(t, anon, "/api/dashboard/stats", http.StatusUnauthorized)
	})
}

func TestDashboardEmptyUser(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		c, _ := dashSignUp(t, srv, "empty@example.com")

		r, stats := dashGet(t, c, "/api/dashboard/stats", http.StatusOK)
		dashCheckStatsShape(t, stats)
		want := `{"total_tasks":0,"completed_tasks":0,"pending_tasks":0,"completion_rate":0,"overdue_tasks":0,` +
			`"by_priority":{"low":{"total":0,"completed":0},"medium":{"total":0,"completed":0},"high":{"total":0,"completed":0}},` +
			`"by_category":[]}`
		if string(r.Body) != want {
			t.Errorf("stats\n got %s\nwant %s", r.Body, want)
		}

		before := time.Now()
		r, ov := dashGet(t, c, "/api/dashboard/overview", http.StatusOK)
		after := time.Now()
		wantKeys(t, ov, "stats", "recent_tasks", "upcoming_tasks", "completed_per_day")
		if ovStats := dashRawStats(t, r); ovStats != want {
			t.Errorf("overview stats\n got %s\nwant %s", ovStats, want)
		}
		for _, k := range []string{"recent_tasks", "upcoming_tasks"} {
			if list, ok := ov[k].([]any); !ok || len(list) != 0 {
				t.Errorf("%s = %#v, want []", k, ov[k])
			}
		}
		for date, n := range dashCheckDays(t, ov["completed_per_day"].([]any), time.UTC, before, after) {
			if n != 0 {
				t.Errorf("%s: %v completed", date, n)
			}
		}
	})
}

func TestDashboardCountsOwnTasksOnly(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		ann, annID := dashSignUp(t, srv, "ann@example.com")
		bob, bobID := dashSignUp(t, srv, "bob@example.com")
		now := time.Now()
		done := dashAt(now.Add(-time.Minute))

		dashInsert(t, srv,
			&models.Task{UserID: annID, Title: "overdue", Priority: models.PriorityHigh, Category: dashStr("work"), DueDate: dashAt(now.Add(-time.Hour))},
			&models.Task{UserID: annID, Title: "done", Priority: models.PriorityLow, Category: dashStr("work"), Status: true, CompletedAt: done},
			&models.Task{UserID: annID, Title: "next", Priority: models.PriorityMedium, DueDate: dashAt(now.Add(time.Hour)),
				UpdatedAt: models.NewTime(now.Add(time.Second))},
		)
		// Bob's tasks: more of everything, and categories Ann does not have.
		for i := 0; i < 4; i++ {
			dashInsert(t, srv,
				&models.Task{UserID: bobID, Title: "bob overdue", Category: dashStr("bob"), DueDate: dashAt(now.Add(-time.Hour))},
				&models.Task{UserID: bobID, Title: "bob done", Category: dashStr("work"), Status: true, CompletedAt: done},
				&models.Task{UserID: bobID, Title: "bob next", DueDate: dashAt(now.Add(time.Minute)), UpdatedAt: models.NewTime(now.Add(time.Hour))},
			)
		}

		r, stats := dashGet(t, ann, "/api/dashboard/stats", http.StatusOK)
		dashCheckStatsShape(t, stats)
		want := `{"total_tasks":3,"completed_tasks":1,"pending_tasks":2,"completion_rate":33.3,"overdue_tasks":1,` +
			`"by_priority":{"low":{"total":1,"completed":1},"medium":{"total":1,"completed":0},"high":{"total":1,"completed":0}},` +
			`"by_category":[{"category":"work","total":2,"completed":1},{"category":null,"total":1,"completed":0}]}`
		if string(r.Body) != want {
			t.Errorf("ann's stats\n got %s\nwant %s", r.Body, want)
		}

		for _, zone := range []string{"", "UTC", "Asia/Tokyo", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"} {
			loc := time.UTC
			path := "/api/dashboard/overview"
			if zone != "" {
				loc, _ = time.LoadLocation(zone)
				path += "?tz=" + url.QueryEscape(zone)
			}
			before := time.Now()
			r, ov := dashGet(t, ann, path, http.StatusOK)
			after := time.Now()
			wantKeys(t, ov, "stats", "recent_tasks", "upcoming_tasks", "completed_per_day")
			if ovStats := dashRawStats(t, r); ovStats != want {
				t.Errorf("%s: overview stats\n got %s\nwant %s", zone, ovStats, want)
			}
			recent := ov["recent_tasks"].([]any)
			upcoming := ov["upcoming_tasks"].([]any)
			if len(recent) != 3 || recent[0].(map[string]any)["title"] != "next" {
				t.Errorf("%s: recent %s", zone, r.Body)
			}
			if len(upcoming) != 1 || upcoming[0].(map[string]any)["title"] != "next" {
				t.Errorf("%s: upcoming %s", zone, r.Body)
			}
			for _, task := range append(recent, upcoming...) {
				m := task.(map[string]any)
				wantKeys(t, m, dashTaskKeys...)
				if m["user_id"] != annID {
					t.Errorf("%s: ann sees %v", zone, m)
				}
			}
			counts := dashCheckDays(t, ov["completed_per_day"].([]any), loc, before, after)
			var total float64
			for _, n := range counts {
				total += n
			}
			if day := done.In(loc).Format(models.DateLayout); total != 1 || counts[day] != 1 {
				t.Errorf("%s: completed per day %v, want 1 on %s", zone, counts, day)
			}
		}

		// And Bob sees only his.
		_, stats = dashGet(t, bob, "/api/dashboard/stats", http.StatusOK)
		if stats["total_tasks"] != float64(12) || stats["overdue_tasks"] != float64(4) || len(stats["by_category"].([]any)) != 3 {
			t.Errorf("bob's stats: %v", stats)
		}
		_, ov := dashGet(t, bob, "/api/dashboard/overview?tz=Europe/Berlin", http.StatusOK)
		for _, k := range []string{"recent_tasks", "upcoming_tasks"} {
			for _, task := range ov[k].([]any) {
				if task.(map[string]any)["user_id"] != bobID {
					t.Errorf("bob's %s holds %v", k, task)
				}
			}
		}
		if n := len(ov["recent_tasks"].([]any)); n != 5 {
			t.Errorf("bob has %d recent tasks, want 5", n)
		}
	})
}

func TestDashboardInvalidTimeZone(t *testing.T) {
	eachEngine(t, func(t *testing.T, srv *servertest.Server) {
		c, _ := dashSignUp(t, srv, "tz@example.com")
		for _, tz := range []string{"Mars/Olympus_Mons", "Local", "../../../../etc/passwd", "/usr/share/zoneinfo/UTC",
			"Europe/Berlin ", "Europe\\Berlin", "Europe/Berlin\x00", "+02:00"} {
			r, body := dashGet(t, c, "/api/dashboard/overview?tz="+url.QueryEscape(tz), http.StatusUnprocessableEntity)
			errs, _ := body["errors"].([]any)
			if r.Header.Get("Content-Type") != "application/problem+json" || len(errs) != 1 ||
				errs[0].(map[string]any)["field"] != "tz" {
				t.Errorf("tz %q: %s", tz, r.Body)
			}
		}
	})
}
