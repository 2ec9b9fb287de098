package pgstore

import (
	"context"
	"fmt"
	"math"

	"github.com/livefold/livefold/store"
)

// request is one accepted Submit: its writes apply atomically.
type request struct {
	writes []store.Write
	done   func(error)
	// cols are the request's writes as the write statement takes them;
	// nil for an empty request, which has nothing to write.
	cols *writeCols
	// size is the request's size as store.RequestSize measures it.
	size int
}

// Submit enqueues writes as one request for the next group commit: all of
// them become durable in one transaction, or none does.
//
// Validation errors (store.ErrInvalidName, store.ErrInvalidKey,
// store.ErrInvalidRecord, also for a request larger than
// store.MaxRequestBytes, store.ErrDuplicateWrite, naming bucket and key),
// store.ErrClosed and ctx's error are returned synchronously, and then done
// is not called. Submit blocks only while the queue is full, until ctx ends
// or Close begins. With WithJSONB, Submit also converts each state to its
// JSON view, on the caller's goroutine.
//
// Once Submit returned nil, done (if non-nil) is called exactly once, after
// the request's transaction committed (done(nil)) or failed. Callbacks run
// in submission order, one at a time: a request's done returns before any
// later request's done starts. The request fails alone with a
// *store.ConflictError (errors.Is store.ErrConflict) when an Expect does not
// match, or a *store.CorruptError when a record it must check is damaged;
// the other requests of the batch still commit. When the transaction fails
// (the database went away, refused the commit, or a commit timeout ran
// out), every request of the batch fails with an error wrapping
// store.ErrCommit, and nothing of the batch is stored. When the connection
// was lost after COMMIT was sent, the store asks the database whether the
// transaction committed before it reports; if it cannot learn it within the
// commit timeout, the outcome wraps ErrOutcomeUnknown.
//
// An empty request writes nothing; its done runs after every earlier
// request's, which makes it a barrier. A nil done is allowed.
//
// done runs on a goroutine of the Store, and the Store reports no further
// outcome until it returned: it must be quick and must not wait for the
// Store. Close, and a Submit that finds the queue full, wait for outcomes
// to be reported: called from inside done, or from a goroutine done waits
// for, they can deadlock the Store, which does not detect it. A panic in
// done is recovered and logged. The caller keeps ownership of writes and of
// every store.Record.State but must not modify them until done was called.
func (s *Store) Submit(ctx context.Context, writes []store.Write, done func(error)) error {
	size, err := store.CheckWrites(writes)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed.Load() {
		return fmt.Errorf("pgstore: %w", store.ErrClosed)
	}
	req := &request{writes: writes, done: done, size: size}
	if len(writes) > 0 {
		req.cols = s.writeCols(writes)
	}
	return s.enqueue(ctx, req)
}

func (s *Store) enqueue(ctx context.Context, req *request) error {
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed {
		return fmt.Errorf("pgstore: %w", store.ErrClosed)
	}
	select {
	case s.queue <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return fmt.Errorf("pgstore: %w", store.ErrClosed)
	}
}

// unixNano returns r's UpdatedAt as stored: Unix nanoseconds, with the one
// instant store.ValidTime refuses standing for the zero time.
func unixNano(r *store.Record) int64 {
	if r.UpdatedAt.IsZero() {
		return math.MinInt64
	}
	return r.UpdatedAt.UnixNano()
}
