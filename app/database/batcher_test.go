package database_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-app/todo/app/database"
)

// recorder is a Batcher write function that keeps every batch, can be held
// while the test queues more items, and fails the items named in fail.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	hold    chan struct{} // while open and non-nil, writes wait on it
	started chan struct{} // receives once per write that began
	active  int           // writes running now
	peak    int           // the most that ran at once
	fail    map[int]bool
}

func (r *recorder) write(_ context.Context, items []int) []error {
	r.mu.Lock()
	r.active++
	r.peak = max(r.peak, r.active)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.active--
		r.mu.Unlock()
	}()
	if r.started != nil {
		r.started <- struct{}{}
	}
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(items))
	r.mu.Unlock()
	errs := make([]error, len(items))
	for i, it := range items {
		if r.fail[it] {
			errs[i] = fmt.Errorf("item %d refused", it)
		}
	}
	return errs
}

// doAsync submits item and reports its outcome on results.
func doAsync(b *database.Batcher[int], ctx context.Context, item int, results chan<- [2]any) {
	go func() {
		err := b.Do(ctx, item)
		results <- [2]any{item, err}
	}()
}

func TestBatcherWritesAloneWhenIdle(t *testing.T) {
	r := &recorder{}
	b := database.NewBatcher(2, 64, r.write)
	for i := range 3 {
		if err := b.Do(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	if want := [][]int{{0}, {1}, {2}}; !slices.EqualFunc(r.batches, want, slices.Equal[[]int]) {
		t.Fatalf("batches %v, want %v", r.batches, want)
	}
}

// TestBatcherGathersWhileBusy holds the only worker, queues items behind it
// and checks they are written together, in order, each with its own error,
// in batches of a power of two items up to maxBatch.
func TestBatcherGathersWhileBusy(t *testing.T) {
	r := &recorder{hold: make(chan struct{}), started: make(chan struct{}, 16), fail: map[int]bool{3: true}}
	b := database.NewBatcher(1, 4, r.write)
	results := make(chan [2]any, 16)
	doAsync(b, context.Background(), 0, results)
	<-r.started // the worker holds item 0
	for i := 1; i <= 7; i++ {
		doAsync(b, context.Background(), i, results)
		waitQueued(t, b, i)
	}
	close(r.hold)
	got := map[int]error{}
	for range 8 {
		res := <-results
		got[res[0].(int)], _ = res[1].(error)
	}
	want := [][]int{{0}, {1, 2, 3, 4}, {5, 6}, {7}}
	if !slices.EqualFunc(r.batches, want, slices.Equal[[]int]) {
		t.Errorf("batches %v, want %v", r.batches, want)
	}
	for i := range 8 {
		if (got[i] != nil) != (i == 3) {
			t.Errorf("item %d: error %v", i, got[i])
		}
	}
}

// TestBatcherWithdrawsCancelledItems: an item whose context ends while it
// waits in the queue is answered with the context's error and never
// written, and the batches of the items left are still powers of two.
func TestBatcherWithdrawsCancelledItems(t *testing.T) {
	r := &recorder{hold: make(chan struct{}), started: make(chan struct{}, 16)}
	b := database.NewBatcher(1, 64, r.write)
	results := make(chan [2]any, 8)
	doAsync(b, context.Background(), 0, results)
	<-r.started
	ctx, cancel := context.WithCancel(context.Background())
	for i := 1; i <= 4; i++ {
		itemCtx := context.Background()
		if i == 2 {
			itemCtx = ctx
		}
		doAsync(b, itemCtx, i, results)
		waitQueued(t, b, i)
	}
	cancel()
	if res := <-results; res[0].(int) != 2 || !errors.Is(res[1].(error), context.Canceled) {
		t.Fatalf("the first answer is item %v with %v, want item 2 cancelled", res[0], res[1])
	}
	close(r.hold)
	for range 4 {
		if res := <-results; res[1] != nil {
			t.Errorf("item %d: error %v", res[0], res[1])
		}
	}
	if want := [][]int{{0}, {1, 3}, {4}}; !slices.EqualFunc(r.batches, want, slices.Equal[[]int]) {
		t.Errorf("batches %v, want %v", r.batches, want)
	}
	if err := b.Do(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with an ended context: %v", err)
	}
}

// TestBatcherBoundsWorkers runs many writers at once: no more than the
// configured number of writes may run together, every item is written
// exactly once, and the workers end when the queue is empty.
func TestBatcherBoundsWorkers(t *testing.T) {
	r := &recorder{}
	b := database.NewBatcher(3, 8, func(ctx context.Context, items []int) []error {
		time.Sleep(time.Millisecond)
		return r.write(ctx, items)
	})
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Do(context.Background(), i); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := r.peak; p > 3 {
		t.Errorf("%d writes ran at once, want at most 3", p)
	}
	var all []int
	for _, batch := range r.batches {
		if n := len(batch); n > 8 || n&(n-1) != 0 {
			t.Errorf("a batch of %d items, want a power of two up to 8", n)
		}
		all = append(all, batch...)
	}
	slices.Sort(all)
	for i, item := range all {
		if i != item || len(all) != 400 {
			t.Fatalf("items written %v, want each of 0..399 once", all)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Workers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still running on an empty queue", b.Workers())
		}
		time.Sleep(time.Millisecond)
	}
}

// waitQueued waits until n items wait behind the busy workers.
func waitQueued(t *testing.T, b *database.Batcher[int], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.Queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d items queued, want %d", b.Queued(), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestBatcherSurvivesAPanic: a write function that panics fails its items
// instead of ending the process, and the Batcher goes on writing.
func TestBatcherSurvivesAPanic(t *testing.T) {
	b := database.NewBatcher(1, 8, func(_ context.Context, items []int) []error {
		if items[0] == 13 {
			panic("unlucky")
		}
		return make([]error, len(items))
	})
	if err := b.Do(context.Background(), 13); err == nil || !strings.Contains(err.Error(), "unlucky") {
		t.Errorf("the panicking write: %v", err)
	}
	if err := b.Do(context.Background(), 14); err != nil {
		t.Errorf("the write after it: %v", err)
	}
}

// TestBatcherKeepsDeadlines: a caller whose deadline passes while its batch
// runs gets its context's error then, not when the batch ends, and the
// batch runs under its callers' latest deadline, or none when one of them
// has none.
func TestBatcherKeepsDeadlines(t *testing.T) {
	type seen struct {
		deadline time.Time
		ok       bool
	}
	seenc := make(chan seen, 4)
	release := make(chan struct{})
	b := database.NewBatcher(1, 8, func(ctx context.Context, items []int) []error {
		d, ok := ctx.Deadline()
		seenc <- seen{d, ok}
		errs := make([]error, len(items))
		select {
		case <-ctx.Done():
			for i := range errs {
				errs[i] = ctx.Err()
			}
		case <-release:
		}
		return errs
	})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	start := time.Now()
	if err := b.Do(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do past its deadline: %v", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("Do returned %s after its deadline", waited)
	}
	if s := <-seenc; !s.ok || !s.deadline.Equal(want) {
		t.Errorf("the batch ran with deadline %v (%v), want %v", s.deadline, s.ok, want)
	}

	noDeadline := make(chan seen, 1)
	go func() {
		noDeadline <- <-seenc
		close(release)
	}()
	if err := b.Do(context.Background(), 2); err != nil {
		t.Errorf("Do without a deadline: %v", err)
	}
	if s := <-noDeadline; s.ok {
		t.Errorf("a batch of a caller without a deadline ran with deadline %v", s.deadline)
	}
}
