// Package boltstore stores livefold snapshots in one bbolt file and commits
// concurrent writers in groups: requests queued while one transaction commits
// share the next transaction and its single fsync.
//
// The package is byte-level: one bucket per projection name, key -> Record,
// with the state as opaque bytes (the runtime encodes states itself).
//
// # Basics
//
// Open starts one committer goroutine owned by the Store; Close stops it.
// Submit enqueues a request (a slice of Writes that apply atomically: all or
// none) and reports its outcome through a callback; Commit enqueues and waits.
// Each Write carries Expect, the version the record must have when the
// committer applies it (0 = absent), which gives optimistic concurrency per
// key without holding locks across the fsync.
//
// # Ordering and group commit
//
// The committer waits for the first queued request, then takes whatever else
// is already queued, without waiting and up to WithMaxBatch requests, and
// commits them in one bbolt write transaction. There is no timer: a lone
// caller is never made to wait for company, and under load batches grow by
// themselves while the previous transaction commits.
//
// Requests are applied and reported in queue (submission) order. Each
// request's Expect values are checked against the transaction's view, which
// includes the earlier requests of the same batch; a request that fails its
// check is skipped whole (a *ConflictError) and the rest of the batch still
// commits. If the transaction or its fsync fails, every request of the batch
// fails with an error wrapping ErrCommit, nothing of the batch is on disk,
// and the Store keeps serving later requests.
//
// Outcomes are reported on the committer goroutine after the transaction
// ended, in submission order: a done callback returns before any later
// request's callback starts, so a publisher driven by callbacks sees commits
// in commit order and never publishes an uncommitted write. A Get that starts
// after a done(nil) returned sees that write.
//
// # Concurrency and back-pressure
//
// Every method of Store is safe for concurrent use. The submission queue is
// bounded (WithQueueSize); Submit blocks while it is full, until ctx ends or
// Close begins. Reads (Get, Scan, Buckets, Verify) run in bbolt read
// transactions concurrently with the committer.
//
// # Ownership
//
// The Store keeps the caller's []Write and each Record.State without copying
// until the request's outcome was reported; the caller must not modify them
// before. Records returned by Get and Scan hold fresh copies of their state,
// owned by the caller. DecodeRecord's result aliases its input.
//
// # Close
//
// Close stops accepting requests (ErrClosed), lets the committer commit and
// report everything already accepted, stops it and closes the file; no
// accepted request is lost. Every later call returns ErrClosed; a second
// Close returns nil.
//
// # Caveats
//
// Done callbacks run on the committer goroutine: they must be quick, as the
// next batch waits for them. Commit and Close return ErrReentrant there;
// Submit works while the queue has room and returns ErrReentrant rather than
// wait when it is full. A panicking callback is recovered and logged
// (WithLogger).
//
// A Scan loop body runs inside a read transaction: it must not call Commit
// or Close, because a commit that grows the file waits for read transactions
// to end (see WithInitialMmapSize).
//
// WithNoSync drops the fsync: a machine crash may lose or corrupt recent
// commits. Use it for tests and throw-away stores.
//
// ErrCorrupt detects damaged record values (format byte, checksum). Damage to
// bbolt's own pages is bbolt's to detect; such a file may fail to open.
//
// # Record format
//
// Each value is, little-endian:
//
//	offset  size  field
//	0       1     format byte, currently 1
//	1       8     Version (uint64, never 0)
//	9       8     UpdatedAt as Unix nanoseconds (int64; 0 = zero time)
//	17      8     Position (uint64)
//	25      4     CRC-32C (Castagnoli) of bytes [0,25) followed by [29,end)
//	29      n     state bytes
//
// A value shorter than 29 bytes, with another format byte, a checksum
// mismatch or version 0 is corrupt. A future format gets a new format byte.
package boltstore
