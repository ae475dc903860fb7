package models_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/todo-app/todo/app/database"
	"github.com/todo-app/todo/app/database/dbtest"
	"github.com/todo-app/todo/models"
)

// planLog records the statements a bun.DB sends (not BEGIN, COMMIT or
// ROLLBACK), exactly as sent: bun inlines the values.
type planLog struct {
	mu      sync.Mutex
	queries []string
}

func (l *planLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (l *planLog) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	for _, verb := range []string{"SELECT", "UPDATE", "INSERT", "DELETE"} {
		if strings.HasPrefix(ev.Query, verb) {
			l.mu.Lock()
			l.queries = append(l.queries, ev.Query)
			l.mu.Unlock()
			return
		}
	}
}

func (l *planLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queries
	l.queries = nil
	return q
}

// planTraced is a store on e's database whose queries go to a planLog.
func planTraced(e *benchEnv) (*models.Store, *planLog) {
	log := &planLog{}
	traced := *e.db
	traced.Read = e.db.Read.WithQueryHook(log)
	traced.Write = e.db.Write.WithQueryHook(log)
	return models.NewStore(&traced), log
}

// sqliteFullScan matches a SQLite plan line reading all of the task table
// (alias t), whether from the table or through an index in index order.
var sqliteFullScan = regexp.MustCompile(`(?m)^\s*SCAN t(\s|$)`)

// planCheckTask fails unless the plan reads the task table only through an
// index searched by user_id. It returns a note on the sort the plan does,
// if any.
func planCheckTask(t *testing.T, d database.Dialect, name, plan string) (note string) {
	t.Helper()
	switch d {
	case database.SQLite:
		if sqliteFullScan.MatchString(plan) {
			t.Errorf("%s: full scan of task:\n%s", name, plan)
		}
		if !regexp.MustCompile(`SEARCH t USING (COVERING )?INDEX task_user_\w+ \(user_id=\?`).MatchString(plan) {
			t.Errorf("%s: task not searched through a user_id index:\n%s", name, plan)
		}
		if strings.Contains(plan, "USE TEMP B-TREE FOR ORDER BY") {
			note = "sorts the matching rows (temp b-tree)"
		}
	case database.Postgres:
		if strings.Contains(plan, "Seq Scan on task") {
			t.Errorf("%s: sequential scan of task:\n%s", name, plan)
		}
		if !regexp.MustCompile(`(Index|Index Only|Bitmap Index) Scan (Backward )?(using|on) task_user_\w+`).MatchString(plan) ||
			!strings.Contains(plan, "user_id = 'target'") {
			t.Errorf("%s: task not searched through a user_id index:\n%s", name, plan)
		}
		if strings.Contains(plan, "Sort  (") || strings.Contains(plan, "Sort (") {
			note = "sorts the matching rows"
		}
	}
	return note
}

// TestTaskListQueryPlans explains the one statement (the count joined to
// the page) every list variant of the benchmarks prepares, with its
// arguments, on the benchmarks' data: a user with 10,000 tasks in a table of
// 50,000, statistics up to date on PostgreSQL. It fails when the task table
// is read other than through an index searched by user_id. The q search
// cannot use a B-tree for its LIKE '%...%'; it reads the user's rows through
// a user_id index and filters them, which passes. Run with -v to see the
// plans.
func TestTaskListQueryPlans(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := benchDB(t, d)
			for _, v := range benchListVariants(t, e.now) {
				tasks, total, err := e.store.ListTasks(ctx, benchUser, v.filter)
				if err != nil {
					t.Fatal(err)
				}
				q, args, err := e.store.ListTasksSQL(benchUser, v.filter)
				if err != nil {
					t.Fatal(err)
				}
				plan := dashExplain(t, e.dashEnv, q, args...)
				note := planCheckTask(t, d, v.name, plan)
				if note != "" {
					note = " — " + note
				}
				t.Logf("%s %s (%d of %d)%s\n%s\n%s", d, v.name, len(tasks), total, note, q, plan)
			}
		})
	}
}

// TestTaskWriteAndSessionQueryPlans explains the statements of the other
// benchmarked requests: an update (the locking read and the UPDATE) and the
// per-request session lookup, which must search the session's unique token
// index and the user's primary key.
func TestTaskWriteAndSessionQueryPlans(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := benchDB(t, d)
			store, log := planTraced(e)

			var id int64
			if err := e.db.Read.NewSelect().Model((*models.Task)(nil)).Column("id").
				Where("user_id = ?", benchUser).OrderExpr("id DESC").Limit(1).Scan(ctx, &id); err != nil {
				t.Fatal(err)
			}
			// Setting the title to what it is changes nothing and writes
			// nothing; an empty If-Match list matches no version, so the
			// locking read runs and the transaction stops before the UPDATE,
			// leaving the shared data alone. The UPDATE is the one a real
			// change would send, rebuilt from the logged read below.
			cur, err := store.TaskByID(ctx, benchUser, id)
			if err != nil {
				t.Fatal(err)
			}
			log.take()
			if _, err := store.UpdateTask(ctx, benchUser, id, models.TaskChanges{Title: &cur.Title}, []int{}); err != models.ErrVersionMismatch {
				t.Fatalf("update with If-Match none: %v", err)
			}
			queries := log.take()
			if len(queries) != 1 {
				t.Fatalf("update sent %q, want the locking read", queries)
			}
			next := *cur
			next.Title += " (edited)"
			next.Version++
			update := e.db.Write.NewUpdate().Model(&next).
				Column("title", "description", "status", "category", "priority", "due_date",
					"completed_at", "version", "updated_at").
				Where("?TableAlias.id = ? AND ?TableAlias.user_id = ? AND ?TableAlias.version = ?",
					id, benchUser, cur.Version).String()
			for i, q := range append(queries, update) {
				name := [2]string{"update: locking read", "update: UPDATE"}[i]
				plan := dashExplain(t, e.dashEnv, q)
				switch d {
				case database.SQLite:
					if !strings.Contains(plan, "USING INTEGER PRIMARY KEY (rowid=?)") {
						t.Errorf("%s: not a primary key search:\n%s", name, plan)
					}
				case database.Postgres:
					if !strings.Contains(plan, "Index Scan using task_pkey") {
						t.Errorf("%s: not a primary key search:\n%s", name, plan)
					}
				}
				t.Logf("%s %s\n%s\n%s", d, name, q, plan)
			}

			if _, _, err := store.SessionByToken(ctx, e.tokens[0]); err != nil {
				t.Fatal(err)
			}
			queries = log.take()
			if len(queries) != 1 {
				t.Fatalf("session lookup sent %q", queries)
			}
			plan := dashExplain(t, e.dashEnv, queries[0])
			switch d {
			case database.SQLite:
				if !strings.Contains(plan, "SEARCH session USING INDEX sqlite_autoindex_session_") ||
					!strings.Contains(plan, "(token=?)") ||
					!strings.Contains(plan, "SEARCH user USING INDEX sqlite_autoindex_user_") || strings.Contains(plan, "SCAN ") {
					t.Errorf("session lookup: not index searches:\n%s", plan)
				}
			case database.Postgres:
				if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "session_token_key") || !strings.Contains(plan, "user_pkey") {
					t.Errorf("session lookup: not index scans:\n%s", plan)
				}
			}
			t.Logf("%s session lookup\n%s\n%s", d, queries[0], plan)
		})
	}
}

// TestPostgresListPlanForNewUser explains the list statement as the server
// runs it on PostgreSQL (prepared, on a pool connection) for a user whose
// tasks all came after the last ANALYZE. Planned for its arguments, the
// statistics say such a user has about one task, and which index the
// planner then picks is a tie it may break by sorting every task of the
// user (it did on the benchmark database: 1,000 rows read for a page of 20,
// 5,600 -> 1,800 req/s). The pool's connections ask for generic plans,
// which read the first page in index order whatever the statistics.
func TestPostgresListPlanForNewUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := dashOpen(t, database.Postgres)
	now := time.Now()
	for i := range 10 {
		dashSeed(t, e, e.user(t, fmt.Sprintf("settled%d", i)), 300, now)
	}
	if _, err := e.db.Write.DB.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	dashSeed(t, e, e.user(t, "newcomer"), 1000, now)

	query, args, err := e.store.ListTasksSQL("newcomer", models.TaskFilter{Sort: models.SortCreatedAt, Desc: true, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := e.db.Read.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mode string
	if err := conn.QueryRowContext(ctx, "SHOW plan_cache_mode").Scan(&mode); err != nil || mode != "force_generic_plan" {
		t.Errorf("plan_cache_mode of a pool connection: %q, %v; want force_generic_plan", mode, err)
	}
	if _, err := conn.ExecContext(ctx, "PREPARE list AS "+database.Rebind(database.Postgres, query)); err != nil {
		t.Fatal(err)
	}
	execute := e.db.Read.QueryGen().FormatQuery("EXECUTE list("+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+")", args...)
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+execute)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s\n%s", execute, plan.String())
	if strings.Contains(plan.String(), "Sort") || !strings.Contains(plan.String(), "Index Scan Backward using task_user_created_at_idx") {
		t.Errorf("the first page of a new user is not read in index order:\n%s", plan.String())
	}
}
