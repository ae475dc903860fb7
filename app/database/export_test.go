package database

// IdleCheckpoints is how many checkpoints the SQLite writer has made while
// idle.
func (db *DB) IdleCheckpoints() uint64 { return db.group.checkpoints.Load() }

// CheckpointWhenIdleAfter exposes the writer's idle checkpoint threshold.
const CheckpointWhenIdleAfter = checkpointWhenIdleAfter
