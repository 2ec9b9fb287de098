package boltstore

import (
	"expvar"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of the Store's counters since Open. Counters are read
// one by one without a common lock, so a snapshot taken during a commit may
// mix values from before and after it.
type Stats struct {
	Requests uint64 // requests whose outcome was decided (counted before their callbacks run)
	Writes   uint64 // writes committed
	Batches  uint64 // batches taken off the queue
	Commits  uint64 // commits made durable: log frames synced, or transactions without the log
	// FailedCommits counts the commits that failed (every request of the
	// batch got store.ErrCommit), and the requests that failed alone
	// because the file could not be read to check them.
	FailedCommits  uint64
	Conflicts      uint64 // requests rejected with a *store.ConflictError
	Corrupt        uint64 // requests rejected because a record they replace is damaged
	CallbackPanics uint64 // done callbacks that panicked
	// FailedSyncs counts the failed writes and syncs of the write-ahead log
	// (appending a frame, erasing one a failed append left, preallocating)
	// and of the file (commits, and the sync of its meta pages after a
	// failed one); each is also logged. See Failed syncs in the package
	// documentation for what follows one.
	FailedSyncs uint64
	// CommitterLookups counts the writes the committer judged by reading
	// the file itself. With the log, the goroutine that submits a request
	// reads the file for the keys the log lacks (see Submit), and the
	// committer reads it only for a key whose records a checkpoint moved
	// from the log into the file after that; without the log, it reads the
	// file for every key a batch has not written.
	CommitterLookups uint64

	MeanBatchRequests float64 // requests per batch
	MaxBatchRequests  uint64
	MeanBatchWrites   float64 // writes per batch
	MaxBatchWrites    uint64

	// Durations are nanoseconds in JSON (Var), under names that say so, as
	// runtime.MemStats's PauseTotalNs does.
	MeanCommitLatency time.Duration `json:"MeanCommitLatencyNs"` // start of a commit's write to its durable end, over successful commits
	MaxCommitLatency  time.Duration `json:"MaxCommitLatencyNs"`

	QueueLen int // requests waiting for the committer now

	Checkpoints       uint64 // times the write-ahead log was folded into the file
	FailedCheckpoints uint64 // checkpoints that failed (the log kept their commits)
	LogBytes          int64  // bytes in the write-ahead log now that the file lacks
	// MeanCheckpoint and MaxCheckpoint time the successful checkpoints,
	// which run beside the commits (see the package documentation).
	MeanCheckpoint time.Duration `json:"MeanCheckpointNs"`
	MaxCheckpoint  time.Duration `json:"MaxCheckpointNs"`
}

// counters are written by the Store's goroutines (the maxima by the
// committer alone) and read by Stats from any goroutine, hence atomics but
// plain stores for the maxima.
type counters struct {
	requests, writes, batches, commits atomic.Uint64
	failedCommits, conflicts, corrupt  atomic.Uint64
	callbackPanics, failedSyncs        atomic.Uint64
	committerLookups                   atomic.Uint64
	batchRequests, batchWrites         atomic.Uint64
	maxBatchRequests, maxBatchWrites   atomic.Uint64
	commitNanos, maxCommitNanos        atomic.Int64
	checkpoints, failedCheckpoints     atomic.Uint64
	logBytes                           atomic.Int64
	checkpointNanos, maxCheckpointNano atomic.Int64
}

func (c *counters) recordBatch(requests, writes int) {
	c.batches.Add(1)
	c.batchRequests.Add(uint64(requests))
	c.batchWrites.Add(uint64(writes))
	if uint64(requests) > c.maxBatchRequests.Load() {
		c.maxBatchRequests.Store(uint64(requests))
	}
	if uint64(writes) > c.maxBatchWrites.Load() {
		c.maxBatchWrites.Store(uint64(writes))
	}
}

func (c *counters) recordRejections(conflicts, corrupt int) {
	c.conflicts.Add(uint64(conflicts))
	c.corrupt.Add(uint64(corrupt))
}

func (c *counters) recordCommit(writes int, d time.Duration) {
	c.commits.Add(1)
	c.writes.Add(uint64(writes))
	c.commitNanos.Add(int64(d))
	if int64(d) > c.maxCommitNanos.Load() {
		c.maxCommitNanos.Store(int64(d))
	}
}

// Stats returns the current counters. It is safe for concurrent use and
// never blocks, also after Close.
func (s *Store) Stats() Stats {
	c := &s.stats
	st := Stats{
		Requests:          c.requests.Load(),
		Writes:            c.writes.Load(),
		Batches:           c.batches.Load(),
		Commits:           c.commits.Load(),
		FailedCommits:     c.failedCommits.Load(),
		Conflicts:         c.conflicts.Load(),
		Corrupt:           c.corrupt.Load(),
		CallbackPanics:    c.callbackPanics.Load(),
		FailedSyncs:       c.failedSyncs.Load(),
		CommitterLookups:  c.committerLookups.Load(),
		MaxBatchRequests:  c.maxBatchRequests.Load(),
		MaxBatchWrites:    c.maxBatchWrites.Load(),
		MaxCommitLatency:  time.Duration(c.maxCommitNanos.Load()),
		QueueLen:          len(s.queue),
		Checkpoints:       c.checkpoints.Load(),
		FailedCheckpoints: c.failedCheckpoints.Load(),
		LogBytes:          c.logBytes.Load(),
		MaxCheckpoint:     time.Duration(c.maxCheckpointNano.Load()),
	}
	if st.Batches > 0 {
		st.MeanBatchRequests = float64(c.batchRequests.Load()) / float64(st.Batches)
		st.MeanBatchWrites = float64(c.batchWrites.Load()) / float64(st.Batches)
	}
	if st.Checkpoints > 0 {
		st.MeanCheckpoint = time.Duration(c.checkpointNanos.Load() / int64(st.Checkpoints))
	}
	if st.Commits > 0 {
		st.MeanCommitLatency = time.Duration(c.commitNanos.Load() / int64(st.Commits))
	}
	return st
}

// Var returns an expvar.Var that reports Stats as JSON, durations in
// nanoseconds under names ending in Ns, so that publishing them is one line:
// expvar.Publish("livefold.store", store.Var()).
func (s *Store) Var() expvar.Var {
	return expvar.Func(func() any { return s.Stats() })
}
