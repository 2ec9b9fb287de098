package boltstore

import "time"

// batch is the requests committed together: one frame of the write-ahead
// log and its fdatasync, or one transaction of the file. It travels through
// the Store's goroutines in order: the committer fills and judges it, the
// syncer writes and syncs its frame (with the log), the completer reports
// its outcomes, and then it goes back to the committer to be used again.
// Only one goroutine holds a batch at a time, and it passes on through a
// channel, so none of its fields needs a lock.
type batch struct {
	// reqs are the requests, in queue order; errs[i] is the outcome of
	// reqs[i].
	reqs []request
	errs []error
	// size is the bytes of reqs as validate measured them, writes their
	// writes.
	size, writes int
	// applied counts the writes accepted into the commit, conflicts and
	// corrupt the requests rejected with a *store.ConflictError or a
	// *store.CorruptError.
	applied, conflicts, corrupt int
	// checkpoint says a request asked for a checkpoint after the batch;
	// closed that the batch takes no more requests.
	checkpoint, closed bool
	// failed is set once every request of the batch got a commit error.
	failed bool

	// With the log: pending holds the newest write of every key the batch
	// accepted, for judging the requests after them; frame is the frame
	// being built (header room and payload), reused from batch to batch,
	// and accepted the writes in it with their places. sealed is the frame
	// as the syncer writes it, a copy sized to fit, which the overlay keeps
	// until a checkpoint.
	pending  map[bucketKey]overlayEntry
	frame    []byte
	accepted []pendingWrite
	sealed   []byte
	// syncErr and syncTime are the syncer's outcome: the append's error
	// and how long the write and sync took.
	syncErr  error
	syncTime time.Duration
}

func newBatch() *batch {
	return &batch{pending: make(map[bucketKey]overlayEntry)}
}

// full says whether the batch holds as many requests, or bytes, as one
// commit may.
func (b *batch) full(maxBatch int) bool {
	return len(b.reqs) >= maxBatch || b.size >= maxBatchBytes
}

// writesFrame says whether the batch has a frame for the syncer: a write was
// accepted and nothing failed it.
func (b *batch) writesFrame() bool { return !b.failed && b.applied > 0 }

// reset empties the batch for its next use, dropping every reference to
// callers' writes and callbacks and to the frame the overlay keeps.
func (b *batch) reset() {
	clear(b.reqs)
	b.reqs = b.reqs[:0]
	clear(b.errs)
	b.errs = b.errs[:0]
	b.size, b.writes, b.applied, b.conflicts, b.corrupt = 0, 0, 0, 0, 0
	b.checkpoint, b.closed, b.failed = false, false, false
	clear(b.pending)
	clear(b.accepted)
	b.accepted = b.accepted[:0]
	if cap(b.frame) > maxRetainedArena {
		b.frame = nil // one huge batch should not pin its memory
	} else {
		b.frame = b.frame[:0]
	}
	b.sealed = nil
	b.syncErr, b.syncTime = nil, 0
}
