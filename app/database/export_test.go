package database

// IdleCheckpoints is how many checkpoints the SQLite writer has made while
// idle.
func (db *DB) IdleCheckpoints() uint64 { return db.group.checkpoints.Load() }

// CheckpointWhenIdleAfter exposes the writer's idle checkpoint threshold.
const CheckpointWhenIdleAfter = checkpointWhenIdleAfter

// Queued is how many items wait for a worker.
func (b *Batcher[T]) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Workers is how many workers run.
func (b *Batcher[T]) Workers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}
