package database

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Batcher gathers the single-row writes of concurrent requests into batches
// that one statement writes. On PostgreSQL most of a small INSERT's cost is
// per statement and per commit (parse, plan, trigger set-up, WAL flush), not
// per row: one INSERT of 16 tasks writes about four times as many tasks per
// second as 16 INSERTs of one.
//
// Nothing waits to fill a batch: a write that finds a worker free is written
// at once, alone. Only writes that arrive while every worker is busy share
// the next batch, so batches grow with the load and a quiet server adds no
// latency. A batch holds a power of two items (the most that are queued, up
// to maxBatch), so the write function sees only a few batch sizes and can
// prepare one statement for each; the items left over wait for the next
// batch, where later arrivals may join them.
//
// Workers are goroutines started on demand that end when the queue is
// empty, so an idle Batcher holds none and needs no closing.
type Batcher[T any] struct {
	workers  int
	maxBatch int
	// write writes items and returns one error per item, in order. Its
	// context carries the latest deadline of the batch's callers (none if
	// one of them has none), not their cancellation: a statement that
	// several requests share must not end when one of them gives up, nor
	// outlast every one of them.
	write func(ctx context.Context, items []T) []error

	mu      sync.Mutex
	queue   []*batchEntry[T]
	running int
}

type batchEntry[T any] struct {
	ctx    context.Context
	item   T
	result chan error
}

// NewBatcher returns a Batcher running at most workers batches at once, each
// of at most maxBatch items (rounded down to a power of two).
func NewBatcher[T any](workers, maxBatch int, write func(ctx context.Context, items []T) []error) *Batcher[T] {
	return &Batcher[T]{workers: max(workers, 1), maxBatch: max(maxBatch, 1), write: write}
}

// Do writes item, possibly with the items of other calls, and returns its
// own outcome. ctx ending before the batch starts withdraws the item. Once
// the batch has started, ctx ending makes Do return ctx's error at once,
// as a statement cut off by its context would: the batch may still commit.
func (b *Batcher[T]) Do(ctx context.Context, item T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e := &batchEntry[T]{ctx: ctx, item: item, result: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, e)
	if b.running < b.workers {
		b.running++
		go b.work()
	}
	b.mu.Unlock()
	select {
	case err := <-e.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Batcher[T]) work() {
	for {
		batch := b.take()
		if batch == nil {
			return
		}
		items := make([]T, len(batch))
		for i, e := range batch {
			items[i] = e.item
		}
		ctx, cancel := latestDeadline(batch)
		errs := b.run(ctx, items)
		cancel()
		for i, e := range batch {
			e.result <- errs[i]
		}
	}
}

// latestDeadline is the context a batch runs in: no caller's cancellation,
// and the latest of their deadlines, or none if a caller has none.
func latestDeadline[T any](batch []*batchEntry[T]) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, e := range batch {
		d, ok := e.ctx.Deadline()
		if !ok {
			return context.Background(), func() {}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// run calls the write function. A panic in it becomes every item's error:
// it runs on a worker goroutine, out of reach of the server's recover
// middleware, and would otherwise end the process.
func (b *Batcher[T]) run(ctx context.Context, items []T) (errs []error) {
	defer func() {
		if p := recover(); p != nil {
			errs = sameError(len(items), fmt.Errorf("batch write panicked: %v\n%s", p, debug.Stack()))
		}
	}()
	errs = b.write(ctx, items)
	if len(errs) != len(items) {
		return sameError(len(items), fmt.Errorf("batch write returned %d results for %d items", len(errs), len(items)))
	}
	return errs
}

func sameError(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// take removes the next batch from the queue, or retires the worker and
// returns nil when the queue is empty. Items whose context has ended are
// answered and dropped first, so the batch is a power of two of live ones.
func (b *Batcher[T]) take() []*batchEntry[T] {
	b.mu.Lock()
	defer b.mu.Unlock()
	live := b.queue[:0]
	for _, e := range b.queue {
		if err := e.ctx.Err(); err != nil {
			e.result <- err
			continue
		}
		live = append(live, e)
	}
	clear(b.queue[len(live):])
	b.queue = live
	if len(b.queue) == 0 {
		b.running--
		return nil
	}
	n := 1
	for n*2 <= min(len(b.queue), b.maxBatch) {
		n *= 2
	}
	batch := make([]*batchEntry[T], n)
	copy(batch, b.queue)
	// Shift instead of reslicing, so the queue's array does not keep every
	// entry ever queued reachable.
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	return batch
}
