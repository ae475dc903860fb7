package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/app/migrator"
	"github.com/todo-app/todo/models"
)

func TestTimeRoundTripsOnEveryEngine(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			ctx := context.Background()
			m, err := migrator.New(db)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Up(ctx); err != nil {
				t.Fatal(err)
			}
			created := models.NewTime(time.Date(2026, 12, 2, 17, 19, 8, 220_999_999, time.FixedZone("x", 3600)))
			u := &models.User{ID: "u1", Name: "n", Email: "e@example.com", CreatedAt: created, UpdatedAt: created}
			acct := models.NewCredentialAccount("a1", "u1", "hash", created)
			store := models.NewStore(db)
			if err := store.CreateUser(ctx, u, acct); err != nil {
				t.Fatal(err)
			}
			got, _, err := store.UserByEmail(ctx, "e@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if !got.CreatedAt.Equal(created.Time) || got.CreatedAt.String() != "2026-12-02T16:19:08.220Z" {
				t.Errorf("createdAt read back as %s, want 2026-12-02T16:19:08.220Z", got.CreatedAt)
			}
			if d == "sqlite" {
				// Better Auth reads this column as text: it must be its format.
				// The driver hands date-typed columns back as time values, so
				// concatenating with '' reads the stored text itself.
				var raw string
				if err := db.Read.QueryRowContext(ctx, `SELECT "createdAt" || '' FROM "user"`).Scan(&raw); err != nil {
					t.Fatal(err)
				}
				if raw != "2026-12-02T16:19:08.220Z" {
					t.Errorf("stored %q, want Better Auth's 2026-12-02T16:19:08.220Z", raw)
				}
			}
		})
	}
}

func TestTimeScansEveryLayout(t *testing.T) {
	want := "2026-12-02T17:19:08.220Z"
	for _, in := range []any{
		"2026-12-02T17:19:08.220Z",
		"2026-12-02T17:19:08.22Z",
		"2026-12-02 17:19:08.220+00:00",
		"2026-12-02T19:19:08.220+02:00",
		[]byte("2026-12-02T17:19:08.220Z"),
		time.Date(2026, 12, 2, 17, 19, 8, 220_400_000, time.UTC),
	} {
		var tm models.Time
		if err := tm.Scan(in); err != nil || tm.String() != want {
			t.Errorf("Scan(%v) = %s, %v; want %s", in, tm, err, want)
		}
	}
	var tm models.Time
	for _, bad := range []any{"yesterday", 42, "2026-13-02T17:19:08Z"} {
		if err := tm.Scan(bad); err == nil {
			t.Errorf("Scan(%v) accepted", bad)
		}
	}
}
