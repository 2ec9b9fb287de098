// Package boltstore stores livefold snapshots in one bbolt file and commits
// concurrent writers in groups: requests queued while one commit is synced
// share the next commit and its single fsync.
//
// The package is byte-level: one bucket per projection name, key -> store.Record,
// with the state as opaque bytes (the runtime encodes states itself).
//
// # Basics
//
// Open starts the Store's goroutines (a committer, with the log a syncer,
// and a completer that reports outcomes); Close stops them.
// Submit enqueues a request (a slice of Writes that apply atomically: all or
// none) and reports its outcome through a callback; Commit enqueues and waits.
// Each store.Write carries Expect, the version the record must have when the
// committer applies it (0 = absent), which gives optimistic concurrency per
// key without holding locks across the fsync.
//
// # Ordering and group commit
//
// The committer waits for the first queued request, then takes whatever else
// is already queued, without waiting and up to WithMaxBatch requests, and
// commits them together: one frame of the write-ahead log and one fdatasync,
// or one bbolt transaction without the log. There is no timer: a lone caller
// is never made to wait for company, and under load batches grow by
// themselves while the previous commit is synced.
//
// With the log, commits overlap their syncs: while the syncer goroutine
// writes and fdatasyncs one batch's frame, the committer takes the requests
// queued meanwhile, judges them against everything accepted before them,
// the frame being synced included, and builds the next frame, which is
// written as soon as that sync succeeded, never before. If the sync fails,
// the requests judged against its writes fail with it (store.ErrCommit):
// nothing of them was written.
//
// Requests are applied and reported in queue (submission) order. Each
// request's Expect values are checked against the transaction's view, which
// includes the earlier requests of the same batch; a request that fails its
// check is skipped whole (a *store.ConflictError) and the rest of the batch still
// commits. If the write or its fsync fails, every request of the batch fails
// with an error wrapping store.ErrCommit, nothing of the batch is on disk
// (see Failed syncs for the window a failed sync leaves), and the Store keeps
// serving later requests.
//
// Outcomes are reported after the commit was made durable (or failed), on
// the completer goroutine, in submission order: a done callback returns
// before any later request's callback starts, so a publisher driven by
// callbacks sees commits in commit order and never publishes an uncommitted
// write. A Get that starts after a done(nil) returned sees that write. No
// callback runs on the committer or the syncer: the commit after a
// callback's is made durable while it runs, and the committer takes new
// requests off the queue once it returned.
//
// # The write-ahead log
//
// By default a commit does not write the bbolt file: it appends the batch's
// records as one frame to a log beside it and syncs that with one
// fdatasync, which is the durable point. A bbolt transaction would rewrite
// every B+tree page the batch touches and sync twice. Committed records
// wait in the log, and in memory, until the log reaches WithWALSize: then a
// checkpoint writes them into the file in key order (Checkpoint does it on
// demand), in transactions of a few thousand records, so that the memory of
// a checkpoint does not grow with the log; the last transaction records that
// the file holds the log, and a crash before it leaves records that the
// replay at Open writes again, with the same values. Reads merge the records in memory with the
// file's, so they see every commit reported before they were called without
// waiting for a checkpoint. A clean Close checkpoints and removes the log;
// after a crash, the next Open replays the log's complete frames into the
// file, so nothing acknowledged is lost, and ignores a torn last frame,
// which was never acknowledged.
//
// The log is two files, the file's path plus "-wal" and plus "-wal2", which
// take turns, so that checkpoints run beside the commits: a checkpoint
// freezes the log file written so far and commits go on into the other one
// at once, while a goroutine of the Store folds the frozen file's records
// into the file; memory keeps them until the file holds them. The log turns
// back to a file only once the checkpoint of its records succeeded, and
// after a failed one, commits go on into the other file until a retry
// succeeds. After a clean Close, and after Open replayed a log, the log
// starts in "-wal"; "-wal2" is written from the next checkpoint on. Only a
// Checkpoint called explicitly, and Close, wait for checkpoints.
//
// WithoutWAL commits every batch as a bbolt transaction instead; WithMaxSize
// implies it, because bbolt enforces the limit per transaction. Tools that
// read the file with bbolt alone see what the last checkpoint wrote;
// LogRecords reports how many writes Open found in a leftover log.
//
// # A log belongs to one file and one moment
//
// Every frame carries a CRC-32C, the identity of its file and a generation,
// which each checkpoint advances, and the generations take turns in the two
// log files; the checkpoint's transaction records in the file how far it
// folded which generation (its fold point). So Open replays exactly the
// frames the file lacks, from the generation after the fold point and then
// the one after that, each of which starts where the one before ended,
// also after a checkpoint that was reported failed yet reached the disk; it
// ignores the leftovers of older generations and a log older than the
// file's last checkpoint (a restored backup), which are in the file
// already; and it refuses a log of another file, or of another history of
// this one (a file restored from a copy older than the log's generations),
// with an error wrapping ErrWrongLog.
//
// A frame that fails its checksum ends the log only when no valid frame of
// its generation follows: that is a tail torn by a crash, never
// acknowledged. A valid frame after it means damage: Open (and a read-only
// Open) returns an error wrapping store.ErrCorrupt that names the log and
// the offset, and changes neither file; so does a log file that lacks the
// generation the other one continues. InspectLog describes every frame of
// the log for tools, and WithLogSalvage replays its intact frames.
//
// # Failed syncs
//
// After a failed write or sync of the log, nothing is acknowledged until the
// frame it may have left is erased and the erasure synced: the batch fails
// with store.ErrCommit, and so does every later one until the erasure
// succeeds. A crash before it may still replay that frame, the window an
// fsync error leaves in any log; no commit is acknowledged within it.
//
// bbolt makes a commit's meta page visible before its last sync, and goes on
// from it even when that sync failed; Linux may drop pages whose sync
// failed. So after a failed commit of the file (a checkpoint, a replay, a
// commit without a log) its meta pages are written again and synced before
// anything else is written to it; a commit bbolt went on from is durable
// then, and is reported committed. If that sync fails too, the Store writes
// the file no more: checkpoints fail and the log keeps every commit (Close
// reports it and the next Open replays it), or without a log every later
// commit fails, and the failed one may still be in the file when it is
// opened again. Every failed sync is counted in Stats.FailedSyncs and
// logged (WithLogger).
//
// # Damaged files and new files
//
// bbolt trusts its pages: a damaged one makes it panic or fault. The Store
// turns those into errors wrapping store.ErrCorrupt, in Open (which also
// checks the file's length and freelist page before bbolt maps it), in
// reads, commits and checkpoints; the committer survives them. Verify also
// runs bbolt's page check.
//
// A new file is written under another name (its path plus ".new-" and 8 hex
// digits) and gets its name only once its first pages and identity are
// synced, so a crash during the first Open leaves no file or one that opens;
// such a crash may leave that other file, which holds nothing and may be
// deleted. Every Open syncs the directory before it returns. Where the
// platform flushes no directory (Windows) the directory sync does nothing;
// a log whose removal did not reach the disk is of a generation the file
// folded, and is never replayed. On macOS syncs use F_FULLFSYNC.
//
// # Read-only
//
// WithReadOnly opens an existing file for tools (cmd/livefold): bbolt's
// shared lock, so it fails with ErrLocked while a writer holds the file and
// keeps writers out while it is open; no committer; Submit, Commit and
// Checkpoint return ErrReadOnly. A leftover log is read into memory, never folded into the
// file, so reads see every acknowledged commit while the file and the log
// stay byte for byte as they were.
//
// # Concurrency and back-pressure
//
// Every method of Store is safe for concurrent use. The submission queue is
// bounded (WithQueueSize); Submit blocks while it is full, until ctx ends or
// Close begins. Reads (Get, Scan, Keys, Buckets, Verify) run concurrently
// with the committer and never wait for it: they read the write-ahead log's
// records in memory and the file in bbolt read transactions. Scan and Keys
// read the file in chunks and hold no transaction while their loop body
// runs. Commit, Checkpoint and Close queue behind the requests already queued
// and wait for the committer.
//
// # Ownership
//
// The Store keeps the caller's []store.Write and each store.Record.State without copying
// until the request's outcome was reported; the caller must not modify them
// before. Records returned by Get and Scan hold fresh copies of their state,
// owned by the caller. DecodeRecord's result aliases its input.
//
// # Close
//
// Close stops accepting requests (store.ErrClosed), lets the committer commit and
// report everything already accepted, folds the log into the file and removes
// it, stops the Store's goroutines and closes the file; no accepted request is lost.
// If the final checkpoint fails, Close says so and leaves the log for the
// next Open to replay. Every later call returns store.ErrClosed; a second
// Close returns nil.
//
// # Caveats
//
// Done callbacks run on the Store's completer goroutine, one at a time:
// while one runs, the commit already under way after it completes, but no
// request is taken off the queue, so a slow callback holds up every later
// request. A callback must be quick and must not wait for the Store.
// Commit, Checkpoint and Close wait for the outcomes of the requests before
// them, and so does a Submit that finds the queue full: called from inside
// done, or from a goroutine done waits for, they deadlock the Store, which
// does not detect it. Hand slow work and such calls to a goroutine of
// your own. Reads never wait for the committer, and a Submit that finds room
// in the queue returns at once: its request commits in a later batch. A
// panicking callback is recovered and logged (WithLogger).
//
// Without the write-ahead log (WithoutWAL), bbolt makes a transaction's
// records visible to readers when it writes its meta page, just before the
// final fsync; a batch whose syncs fail twice (see Failed syncs) is reported
// failed although readers may see it. With the log, readers see a batch only
// after its sync succeeded.
//
// WithNoSync drops the fsync: a machine crash may lose or corrupt recent
// commits. Use it for tests and throw-away stores.
//
// store.ErrCorrupt reports damaged record values (format byte, checksum), a
// damaged log, and damaged pages of the file. A damaged page that bbolt reads
// without noticing (valid-looking, but not the page it was) is not detected
// by reads; Verify's page check finds most such damage.
//
// # Record format
//
// Each value is, little-endian:
//
//	offset  size  field
//	0       1     format byte, currently 2
//	1       8     Version (uint64, never 0)
//	9       8     Stamp (uint64)
//	17      8     Lineage (uint64)
//	25      8     UpdatedAt as Unix nanoseconds (int64; MinInt64 = zero time)
//	33      8     Position (uint64)
//	41      4     CRC-32C (Castagnoli) of bytes [0,41) followed by [45,end)
//	45      n     state bytes
//
// Format 1, written before records had a stamp and a lineage, lacks bytes
// 9 to 24 (its CRC is at 25 and its state at 29) and stores the zero time as
// 0; it is still read, with stamp and lineage 0, and replaced by format 2 on
// the key's next write. A
// value shorter than its header, with another format byte, a checksum
// mismatch or version 0 is corrupt. A future format gets a new format byte.
package boltstore
