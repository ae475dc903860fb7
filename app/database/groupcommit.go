package database

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/uptrace/bun"
)

// maxGroup bounds how many writes share one commit, so the first of them
// does not wait long for the rest.
const maxGroup = 64

// groupCommit runs the write transactions of concurrent requests on
// SQLite's single writer connection in shared transactions: each commit
// costs a WAL append and its syscalls, however little it writes, so the
// writes that queued while one transaction ran are committed together.
// Nothing waits to fill a group: a write that finds the writer idle commits
// alone. Each write runs in its own savepoint, so one that fails leaves the
// others in its group unaffected, and none is acknowledged before the
// group's commit has returned.
type groupCommit struct {
	db   *bun.DB
	reqs chan *groupWrite

	// commitsSinceCheckpoint counts the commits whose WAL frames no
	// checkpoint has copied back yet; only run touches it.
	commitsSinceCheckpoint int
	// checkpoints counts the idle checkpoints that succeeded (for tests).
	checkpoints atomic.Uint64

	done      chan struct{} // closed by close: stop taking writes
	stopped   chan struct{} // closed when run has returned
	closeOnce sync.Once
}

type groupWrite struct {
	ctx    context.Context
	fn     func(ctx context.Context, tx bun.Tx) error
	result chan error
}

// errWriterClosed is returned to writes submitted after Close.
var errWriterClosed = errors.New("database is closed")

func newGroupCommit(db *bun.DB) *groupCommit {
	g := &groupCommit{db: db, reqs: make(chan *groupWrite, maxGroup), done: make(chan struct{}), stopped: make(chan struct{})}
	go g.run()
	return g
}

func (g *groupCommit) do(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	w := &groupWrite{ctx: ctx, fn: fn, result: make(chan error, 1)}
	select {
	case g.reqs <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.done:
		return errWriterClosed
	}
	// Once submitted the write may run even if ctx ends meanwhile, so its
	// outcome is waited for: answering "cancelled" for a write that then
	// committed would be a lie. A write still queued when the writer
	// stopped never ran; one it took has its result already.
	select {
	case err := <-w.result:
		return rethrow(err)
	case <-g.stopped:
	}
	select {
	case err := <-w.result:
		return rethrow(err)
	default:
		return errWriterClosed
	}
}

func (g *groupCommit) run() {
	defer close(g.stopped)
	for {
		var first *groupWrite
		select {
		case first = <-g.reqs:
		default:
			// Nothing queued: copy the WAL back into the database now,
			// while no write waits for it, instead of in the middle of a
			// later commit (see checkpointWhenIdleAfter).
			if g.commitsSinceCheckpoint >= checkpointWhenIdleAfter {
				g.checkpoint()
			}
			select {
			case first = <-g.reqs:
			case <-g.done:
				return
			}
		}
		group := []*groupWrite{first}
	drain:
		for len(group) < maxGroup {
			select {
			case w := <-g.reqs:
				group = append(group, w)
			default:
				break drain
			}
		}
		g.commit(group)
		g.commitsSinceCheckpoint++
	}
}

// checkpointWhenIdleAfter is how many commits the writer lets build up in
// the WAL before it checkpoints the next time it finds no write queued.
// SQLite's own automatic checkpoint runs inside the commit that crosses its
// threshold and holds every queued write meanwhile; the writer connection's
// threshold (writerAutoCheckpoint) is therefore only a bound for a writer
// that is never idle.
const checkpointWhenIdleAfter = 8

// checkpoint copies committed WAL frames back into the database file
// (PASSIVE: it waits for no reader), so the next writes can start the WAL
// over from its beginning. A failure is not the writes' concern: the next
// idle moment, or the automatic checkpoint, tries again.
func (g *groupCommit) checkpoint() {
	if _, err := g.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err == nil {
		g.commitsSinceCheckpoint = 0
		g.checkpoints.Add(1)
	}
}

func (g *groupCommit) commit(group []*groupWrite) {
	// The transaction outlives any one request, so no request's deadline or
	// cancellation may interrupt it: SQLite rolls back the whole transaction
	// when a write statement in it is interrupted.
	ctx := context.Background()
	results := make([]error, len(group))
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		for _, w := range group {
			w.result <- fmt.Errorf("begin write transaction: %w", err)
		}
		return
	}
	for i, w := range group {
		if err := w.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		results[i] = runInSavepoint(tx, w)
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("commit write transaction: %w", err)
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
	}
	for i, w := range group {
		w.result <- results[i]
	}
}

func runInSavepoint(tx bun.Tx, w *groupWrite) error {
	ctx := context.WithoutCancel(w.ctx)
	if _, err := tx.ExecContext(ctx, "SAVEPOINT todo_write"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	err := callWrite(ctx, tx, w.fn)
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT todo_write"); rerr != nil {
			return errors.Join(err, fmt.Errorf("roll back savepoint: %w", rerr))
		}
	}
	if _, rerr := tx.ExecContext(ctx, "RELEASE SAVEPOINT todo_write"); rerr != nil {
		return errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
	}
	return err
}

// writePanic carries a panic of a write function from the writer goroutine
// to the caller of WriteTx, which panics with it in its own goroutine.
type writePanic struct {
	value any
	stack []byte
}

func (p *writePanic) Error() string {
	return fmt.Sprintf("write panicked: %v\n\nwriter goroutine:\n%s", p.value, p.stack)
}

// rethrow panics in the caller's goroutine with a panic of its write
// function, as on PostgreSQL, where the function runs in that goroutine.
func rethrow(err error) error {
	var p *writePanic
	if errors.As(err, &p) {
		panic(p)
	}
	return err
}

// callWrite runs fn, turning a panic into a *writePanic: unrecovered on the
// writer goroutine, out of reach of the server's recover middleware, it
// would end the process. Its savepoint is then rolled back like any failed
// write's, and the group commits without it.
func callWrite(ctx context.Context, tx bun.Tx, fn func(ctx context.Context, tx bun.Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &writePanic{value: p, stack: debug.Stack()}
		}
	}()
	return fn(ctx, tx)
}

// close stops the writer once its current group has committed; writes
// still queued fail with errWriterClosed.
func (g *groupCommit) close() {
	g.closeOnce.Do(func() { close(g.done) })
	<-g.stopped
}
