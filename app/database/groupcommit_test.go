package database_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
)

// Concurrent writes share commits on SQLite; each must still be all or
// nothing on its own: a failing write undoes exactly its own changes, and
// its neighbours in the group commit.
func TestWriteTxIsolatesGroupedWrites(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			db := dbtest.Open(t, d)
			ctx := context.Background()
			if _, err := db.Write.ExecContext(ctx, `CREATE TABLE gc (k integer PRIMARY KEY, v integer NOT NULL CHECK (v >= 0))`); err != nil {
				t.Fatal(err)
			}
			const writers = 200
			errBoom := errors.New("boom")
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = db.WriteTx(ctx, func(ctx context.Context, tx bun.Tx) error {
						// Two statements per write, so a rollback must undo
						// the first when the second (or the caller) fails.
						if _, err := tx.ExecContext(ctx, `INSERT INTO gc (k, v) VALUES (?, 1)`, i); err != nil {
							return err
						}
						switch i % 3 {
						case 1: // violates the CHECK
							_, err := tx.ExecContext(ctx, `INSERT INTO gc (k, v) VALUES (?, -1)`, i+writers)
							return err
						case 2: // the caller gives up
							return errBoom
						}
						_, err := tx.ExecContext(ctx, `UPDATE gc SET v = 2 WHERE k = ?`, i)
						return err
					})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if (err == nil) != (i%3 == 0) {
					t.Errorf("write %d: %v", i, err)
				}
			}
			var n, sum int
			if err := db.Read.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(v), 0) FROM gc`).Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			want := (writers + 2) / 3
			if n != want || sum != 2*want {
				t.Fatalf("%d rows summing to %d, want %d rows of 2", n, sum, want)
			}
		})
	}
}

// A write whose request was cancelled before it ran does not run.
func TestWriteTxSkipsCancelledWrites(t *testing.T) {
	db := dbtest.Open(t, database.SQLite)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := db.WriteTx(ctx, func(ctx context.Context, tx bun.Tx) error { ran = true; return nil })
	if err == nil || ran {
		t.Fatalf("cancelled write: err %v, ran %v", err, ran)
	}
}

func BenchmarkWriteTx(b *testing.B) {
	for _, d := range dbtest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			db := dbtest.Open(b, d)
			ctx := context.Background()
			if _, err := db.Write.ExecContext(ctx, `CREATE TABLE gc (k integer PRIMARY KEY, v text NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			var mu sync.Mutex
			next := 0
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mu.Lock()
					next++
					k := next
					mu.Unlock()
					err := db.WriteTx(ctx, func(ctx context.Context, tx bun.Tx) error {
						_, err := tx.ExecContext(ctx, `INSERT INTO gc (k, v) VALUES (?, ?)`, k, fmt.Sprint("value ", k))
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// Writes submitted after Close fail instead of waiting for ever.
func TestWriteTxAfterClose(t *testing.T) {
	db, err := database.Open(database.Options{URL: dbtest.NewURL(t, database.SQLite), MaxOpenConns: 2, MaxIdleConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	err = db.WriteTx(context.Background(), func(ctx context.Context, tx bun.Tx) error { return nil })
	if err == nil {
		t.Fatal("a write after Close succeeded")
	}
}

// TestWriterCheckpointsWhenIdle: after enough commits, the SQLite writer
// copies the WAL back into the database the next time no write is queued,
// rather than in the middle of a later commit.
func TestWriterCheckpointsWhenIdle(t *testing.T) {
	db := dbtest.Open(t, database.SQLite)
	ctx := context.Background()
	if _, err := db.Write.ExecContext(ctx, `CREATE TABLE gc (k integer PRIMARY KEY, v text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for k := range database.CheckpointWhenIdleAfter {
		err := db.WriteTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO gc (k, v) VALUES (?, ?)`, k, fmt.Sprint("value ", k))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.IdleCheckpoints() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after %d commits and an idle writer", database.CheckpointWhenIdleAfter)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var n int
	if err := db.Read.NewRaw(`SELECT count(*) FROM gc`).Scan(ctx, &n); err != nil || n != database.CheckpointWhenIdleAfter {
		t.Fatalf("rows after the checkpoint: %d, %v", n, err)
	}
}

// A write function that panics: the panic reaches the caller of WriteTx in
// its own goroutine (on SQLite it ran on the writer), its changes are
// undone, and the writes grouped with it commit.
func TestWriteTxPanicReachesTheCaller(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			db := dbtest.Open(t, d)
			ctx := context.Background()
			if _, err := db.Write.ExecContext(ctx, `CREATE TABLE gp (k integer PRIMARY KEY)`); err != nil {
				t.Fatal(err)
			}
			const writers = 40
			panicked := make([]any, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { panicked[i] = recover() }()
					err := db.WriteTx(ctx, func(ctx context.Context, tx bun.Tx) error {
						if _, err := tx.ExecContext(ctx, `INSERT INTO gp (k) VALUES (?)`, i); err != nil {
							return err
						}
						if i%5 == 0 {
							panic(fmt.Sprintf("write %d fails", i))
						}
						return nil
					})
					if err != nil {
						t.Errorf("write %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			for i, p := range panicked {
				if (p != nil) != (i%5 == 0) || (p != nil && !strings.Contains(fmt.Sprint(p), fmt.Sprintf("write %d fails", i))) {
					t.Errorf("write %d: panic %v", i, p)
				}
			}
			var n, bad int
			err := db.Read.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE k % 5 <> 0), count(*) FILTER (WHERE k % 5 = 0) FROM gp`).Scan(&n, &bad)
			if err != nil {
				t.Fatal(err)
			}
			if n != writers-writers/5 || bad != 0 {
				t.Fatalf("%d writes kept and %d panicking ones, want %d and 0", n, bad, writers-writers/5)
			}
		})
	}
}
