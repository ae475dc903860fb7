package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
)

// TestPreparedStatementCutOffDropsConnection cuts a prepared statement off
// by its context while the server is still answering, then uses the pool's
// only connection again: it must be a fresh one, not the old one with the
// statement's replies still unread (which failed the next request with
// "unexpected message" and a 500).
func TestPreparedStatementCutOffDropsConnection(t *testing.T) {
	t.Parallel()
	db, err := database.Open(database.Options{URL: dbtest.NewURL(t, database.Postgres), MaxOpenConns: 1, MaxIdleConns: 1,
		QueryTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sqldb := db.Read.DB
	st, err := sqldb.PrepareContext(context.Background(), "SELECT pg_sleep($1)")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		rows, err := st.QueryContext(ctx, 0.3)
		if err == nil {
			rows.Close()
		}
		cancel()
		if err == nil {
			t.Fatal("a 300 ms sleep finished within 50 ms")
		}
		var one int
		if err := sqldb.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("the next query on the pool: %d, %v", one, err)
		}
	}
}
