package boltstore

import (
	"context"
	"fmt"

	"github.com/livefold/livefold/store"
)

// request is one Submit or Commit: its writes apply atomically.
type request struct {
	writes []store.Write
	// done is Submit's callback (nil allowed); wait is Commit's pooled
	// result channel. Exactly one of them is used.
	done func(error)
	wait chan error
	// checkpoint asks the committer to fold the log into the database file
	// after this batch; see Store.Checkpoint.
	checkpoint bool
	// size is about how many bytes the writes take in a commit, measured
	// once by validate.
	size int
	// priors are what the file held for the writes, read on submission.
	priors priors
}

// Submit enqueues writes as one request for the next group commit: all of them
// become durable in one commit, or none does.
//
// Validation errors (store.ErrInvalidName, store.ErrInvalidKey, store.ErrInvalidRecord, also
// for a request larger than store.MaxRequestBytes, store.ErrDuplicateWrite, naming bucket
// and key), store.ErrClosed, ErrReadOnly (a Store opened WithReadOnly) and
// ctx's error are returned synchronously, and then done is not called. Submit
// blocks only while the queue is full, until ctx ends or Close begins.
//
// Once Submit returned nil, done (if non-nil) is called exactly once, on the
// Store's completer goroutine, after the request's commit was made durable
// (done(nil)) or failed. Callbacks run in submission order: a request's done returns
// before any later request's done starts. The request fails alone with a
// *store.ConflictError (errors.Is store.ErrConflict) when an Expect does not match, or a
// *store.CorruptError when a record it replaces is damaged (unless Force); the other
// requests of the batch still commit. When the commit's write or its fsync
// fails, every request of the batch fails with the same error wrapping
// store.ErrCommit, and nothing of the batch is on disk (see Failed syncs in
// the package documentation for the window a failed sync leaves).
//
// An empty request writes nothing; its done runs after every earlier
// request's, which makes it a barrier. A nil done is allowed.
//
// With the write-ahead log, Submit reads from the file, on the calling
// goroutine, the records its writes replace that the log lacks, so that
// the committer judges them without reading the file (Stats.CommitterLookups).
//
// done runs on the Store's completer goroutine, and while it runs the Store
// takes no request off the queue: it must be quick and must not wait for the
// Store. Commit, Checkpoint and Close wait for the outcomes of the requests
// before them, and so does a Submit that finds the queue full: called from
// inside done, or from a goroutine done waits for, they deadlock the Store,
// which does not detect it. Hand slow work and such
// calls to a goroutine of your own. Reads (Get, Scan, Keys, Buckets, Verify)
// never wait for the committer, and a Submit that finds room in the queue
// returns at once: its request commits in a later batch. A panic in done is
// recovered and logged.
//
// The caller keeps ownership of writes and of every store.Record.State but
// must not modify them until done was called.
func (s *Store) Submit(ctx context.Context, writes []store.Write, done func(error)) error {
	size, err := validate(writes)
	if err != nil {
		return err
	}
	req := request{writes: writes, done: done, size: size}
	s.readPriors(&req)
	return s.enqueue(ctx, req)
}

// Commit is Submit followed by waiting for the outcome, which it returns.
//
// Once the request is enqueued, Commit waits for the outcome even if ctx ends:
// the write may already be committed and durable, and returning ctx's error
// would misreport it. ctx only bounds the wait for queue space.
//
// Commit waits for the outcomes of the requests before it: called from
// inside a done callback it deadlocks the Store (see Submit).
func (s *Store) Commit(ctx context.Context, writes []store.Write) error {
	size, err := validate(writes)
	if err != nil {
		return err
	}
	req := request{writes: writes, size: size}
	s.readPriors(&req)
	req.wait = s.waiters.Get().(chan error)
	ch := req.wait
	if err := s.enqueue(ctx, req); err != nil {
		s.waiters.Put(ch)
		return err
	}
	err = <-ch
	s.waiters.Put(ch)
	return err
}

func (s *Store) enqueue(ctx context.Context, req request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	if s.readOnly {
		return ErrReadOnly
	}
	select {
	case s.queue <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return store.ErrClosed
	}
}

// validate rejects, before anything is queued, every request the contract
// refuses (store.CheckWrites) and returns its size. The contract's limits are
// within bbolt's: keys up to store.MaxKeyLen are bbolt.MaxKeySize, and a
// request of store.MaxRequestBytes holds no value above bbolt.MaxValueSize.
func validate(writes []store.Write) (size int, err error) {
	size, err = store.CheckWrites(writes)
	if err != nil {
		return 0, fmt.Errorf("boltstore: %w", err)
	}
	return size, nil
}

// validBucketKey checks a bucket name and a key for a read.
func validBucketKey(bucket, key string) error {
	if err := store.CheckName(bucket); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	if err := store.CheckKey(key); err != nil {
		return fmt.Errorf("boltstore: bucket %q: %w", bucket, err)
	}
	return nil
}
