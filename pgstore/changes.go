package pgstore

import (
	"context"
	"fmt"
	"iter"

	"github.com/livefold/livefold/store"
)

// Changes yields the commits that other Stores of the same table make (in
// this process or others), as they happen, never this Store's own: for
// each write, its bucket, key, lineage and version (0 and 0 for a delete).
// Changes of one key come in commit order, and so do all changes, since
// PostgreSQL delivers notifications in commit order.
//
// Every Changes call of a Store shares one connection, which the Store
// takes out of its pool when the first call starts, keeps listening on
// the table's channel while any call runs, and closes when the last one
// ends or the Store closes. The feed may begin a moment after Changes was
// called, once that connection listens; a call that began before it
// listened yields a Reset first, since changes committed in that moment
// are not announced. When the connection is lost (or
// cannot be made, or a silent connection does not answer a check within a
// while), the Store connects again, with growing pauses, for as long as
// any call runs, and once it listens again each call yields a Change with
// Reset set: changes made meanwhile are not announced again, so every key
// may have changed. A caller that reads too slowly, leaving more than a few
// thousand changes unread, also receives a Reset in place of them. A
// transaction that wrote more than a few thousand keys is announced as a
// Reset too.
//
// The walk ends when ctx ends, yielding ctx's error, or when Close begins,
// yielding an error wrapping store.ErrClosed. Values yielded belong to the
// caller.
func (s *Store) Changes(ctx context.Context) iter.Seq2[store.Change, error] {
	return func(yield func(store.Change, error) bool) {
		fl := s.join()
		if fl == nil {
			yield(store.Change{}, fmt.Errorf("pgstore: %w", store.ErrClosed))
			return
		}
		defer s.leave(fl)
		var batch []store.Change
		for {
			select {
			case <-fl.wake:
			case <-ctx.Done():
				yield(store.Change{}, ctx.Err())
				return
			case <-s.closing:
				yield(store.Change{}, fmt.Errorf("pgstore: %w", store.ErrClosed))
				return
			}
			batch = s.take(fl, batch[:0])
			for _, c := range batch {
				if !yield(c, nil) {
					return
				}
			}
		}
	}
}
