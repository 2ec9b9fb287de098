package boltstore

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// MaxBucketLen is the longest accepted bucket (projection) name, in bytes.
const MaxBucketLen = 255

// MaxRequestBytes is the most one request may write: the sum, over its
// writes, of the encoded record, key and bucket name.
const MaxRequestBytes = 1 << 30

// Write is one change in a request.
//
// The Store keeps the caller's Write slice and Record.State without copying
// them until the request's done callback ran (or Commit returned): the caller
// must not modify either before that.
type Write struct {
	// Bucket is the projection name: non-empty, at most MaxBucketLen bytes.
	// The bucket is created in the file when a record is first stored in it.
	Bucket string
	// Key is non-empty and at most bolt.MaxKeySize (32768) bytes.
	Key string
	// Expect is the version the record must have when the committer applies
	// the request (after the earlier requests of the same batch); 0
	// means the record must be absent. A mismatch fails the whole request
	// with a *ConflictError.
	Expect uint64
	// Force applies the write without checking Expect, also over a damaged
	// record: for rebuilds and repair tools, not for ordinary updates.
	Force bool
	// Delete removes the record instead of putting Record. Deleting an absent
	// record (with Expect 0) succeeds and changes nothing.
	Delete bool
	// Record is the new record, ignored when Delete. Its Version must not be
	// 0.
	Record Record
}

// request is one Submit or Commit: its writes apply atomically.
type request struct {
	writes []Write
	// done is Submit's callback (nil allowed); wait is Commit's pooled
	// result channel. Exactly one of them is used.
	done func(error)
	wait chan error
	// checkpoint asks the committer to fold the log into the database file
	// after this batch; see Store.flush.
	checkpoint bool
	// size is about how many bytes the writes take in a commit, measured
	// once by validate.
	size int
}

// requestSize returns about how many bytes writes take in a commit.
func requestSize(writes []Write) int {
	n := 0
	for i := range writes {
		w := &writes[i]
		n += walWriteHead + len(w.Bucket) + len(w.Key)
		if !w.Delete {
			n += headerLen + len(w.Record.State)
		}
	}
	return n
}

// Submit enqueues writes as one request for the next group commit: all of them
// become durable in one commit, or none does.
//
// Validation errors (ErrInvalidBucket, ErrInvalidKey, ErrInvalidRecord, also
// for a request larger than MaxRequestBytes, ErrDuplicateWrite, naming bucket
// and key), ErrClosed, ErrReentrant and
// ctx's error are returned synchronously, and then done is not called. Submit
// blocks only while the queue is full, until ctx ends or Close begins.
//
// Once Submit returned nil, done (if non-nil) is called exactly once, on the
// committer goroutine, after the request's commit was made durable (done(nil))
// or failed. Callbacks run in submission order: a request's done returns
// before any later request's done starts. The request fails alone with a
// *ConflictError (errors.Is ErrConflict) when an Expect does not match, or a
// *CorruptError when a record it replaces is damaged (unless Force); the other
// requests of the batch still commit. When the commit's write or its fsync
// fails, every request of the batch fails with the same error wrapping
// ErrCommit, and nothing of the batch is on disk.
//
// An empty request writes nothing; its done runs after every earlier
// request's, which makes it a barrier. A nil done is allowed.
//
// done must be quick, as the next batch waits for it. Commit and Close called
// from inside done return ErrReentrant (they would wait for the committer
// running the callback). Submit from inside done enqueues the request behind
// everything already queued, for a later batch, when the queue has room; when
// it is full it returns ErrReentrant instead of waiting. A panic in done is
// recovered and logged. The caller keeps ownership of writes and of every
// Record.State but must not modify them until done was called.
func (s *Store) Submit(ctx context.Context, writes []Write, done func(error)) error {
	size, err := validate(writes)
	if err != nil {
		return err
	}
	return s.enqueue(ctx, request{writes: writes, done: done, size: size})
}

// Commit is Submit followed by waiting for the outcome, which it returns.
//
// Once the request is enqueued, Commit waits for the outcome even if ctx ends:
// the write may already be committed and durable, and returning ctx's error
// would misreport it. ctx only bounds the wait for queue space.
func (s *Store) Commit(ctx context.Context, writes []Write) error {
	if s.onCommitter() {
		return ErrReentrant
	}
	size, err := validate(writes)
	if err != nil {
		return err
	}
	ch := s.waiters.Get().(chan error)
	if err := s.enqueue(ctx, request{writes: writes, wait: ch, size: size}); err != nil {
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
		return ErrClosed
	}
	select {
	case s.queue <- req:
		return nil
	default:
	}
	// Waiting for space inside a done callback would wait for the committer
	// that runs the callback. Checked only here: the goroutine id costs
	// microseconds, and a Submit that finds room is harmless.
	if s.onCommitter() {
		return ErrReentrant
	}
	select {
	case s.queue <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return ErrClosed
	}
}

// validate rejects, before anything is queued, every write that would make
// bbolt fail inside a transaction (a commit's, or a checkpoint's) and so fail
// a whole batch; for a valid request it returns its size.
func validate(writes []Write) (size int, err error) {
	for i := range writes {
		w := &writes[i]
		if err := validBucketKey(w.Bucket, w.Key); err != nil {
			return 0, err
		}
		if w.Delete {
			continue
		}
		switch {
		case w.Record.Version == 0:
			return 0, fmt.Errorf("%w: bucket %q key %q: version 0", ErrInvalidRecord, w.Bucket, quoteKey(w.Key))
		case !validTime(w.Record.UpdatedAt):
			return 0, fmt.Errorf("%w: bucket %q key %q: UpdatedAt %s outside the int64-nanosecond range",
				ErrInvalidRecord, w.Bucket, quoteKey(w.Key), w.Record.UpdatedAt)
		case int64(len(w.Record.State)) > bolt.MaxValueSize-headerLen:
			return 0, fmt.Errorf("%w: bucket %q key %q: state of %d bytes is too large",
				ErrInvalidRecord, w.Bucket, quoteKey(w.Key), len(w.Record.State))
		}
	}
	size = requestSize(writes)
	if size > MaxRequestBytes {
		return 0, fmt.Errorf("%w: the request's %d writes take %d bytes, more than %d", ErrInvalidRecord, len(writes), size, MaxRequestBytes)
	}
	return size, checkDuplicates(writes)
}

func validBucketKey(bucket, key string) error {
	switch {
	case bucket == "":
		return fmt.Errorf("%w: empty bucket name (key %q)", ErrInvalidBucket, quoteKey(key))
	case len(bucket) > MaxBucketLen:
		return fmt.Errorf("%w: bucket %q is %d bytes, longer than %d", ErrInvalidBucket, quoteKey(bucket), len(bucket), MaxBucketLen)
	case key == "":
		return fmt.Errorf("%w: bucket %q: empty key", ErrInvalidKey, bucket)
	case len(key) > bolt.MaxKeySize:
		return fmt.Errorf("%w: bucket %q key %q: %d bytes, longer than %d", ErrInvalidKey, bucket, quoteKey(key), len(key), bolt.MaxKeySize)
	}
	return nil
}

func checkDuplicates(writes []Write) error {
	type bk struct{ bucket, key string }
	dup := func(w *Write) error {
		return fmt.Errorf("%w: bucket %q key %q", ErrDuplicateWrite, w.Bucket, quoteKey(w.Key))
	}
	// Requests are usually one or a few writes: a quadratic scan beats
	// allocating a map.
	if len(writes) <= 16 {
		for i := range writes {
			for j := i + 1; j < len(writes); j++ {
				if writes[i].Bucket == writes[j].Bucket && writes[i].Key == writes[j].Key {
					return dup(&writes[j])
				}
			}
		}
		return nil
	}
	// Writes in strictly ascending order, as a runtime's batch submits them,
	// cannot repeat a key.
	ascending := true
	for i := 1; i < len(writes) && ascending; i++ {
		a, b := &writes[i-1], &writes[i]
		ascending = a.Bucket < b.Bucket || (a.Bucket == b.Bucket && a.Key < b.Key)
	}
	if ascending {
		return nil
	}
	seen := make(map[bk]struct{}, len(writes))
	for i := range writes {
		k := bk{writes[i].Bucket, writes[i].Key}
		if _, ok := seen[k]; ok {
			return dup(&writes[i])
		}
		seen[k] = struct{}{}
	}
	return nil
}
