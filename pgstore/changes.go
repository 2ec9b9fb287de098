package pgstore

import (
	"context"
	"fmt"
	"iter"

	"github.com/livefold/livefold/store"
)

// Changes yields one error: store.ErrClosed after Close began, and
// otherwise one wrapping store.ErrUnsupported, since the store does not
// follow the commits of other handles of its table (see the package
// documentation, Caveats).
func (s *Store) Changes(ctx context.Context) iter.Seq2[store.Change, error] {
	return func(yield func(store.Change, error) bool) {
		if s.isClosed.Load() {
			yield(store.Change{}, fmt.Errorf("pgstore: %w", store.ErrClosed))
			return
		}
		yield(store.Change{}, fmt.Errorf("pgstore: other handles' commits are not followed: %w", store.ErrUnsupported))
	}
}
