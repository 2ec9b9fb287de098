package projection

import (
	"context"

	"github.com/livefold/livefold/boltstore"
)

// Store is where a Runtime persists snapshots. *boltstore.Store implements
// it; the interface exists so that tests can inject faults.
//
// Get returns the record of key in bucket; its State belongs to the caller.
// Submit enqueues writes to be committed atomically and calls done exactly
// once, after the outcome is known, in submission order; see
// [boltstore.Store.Submit] for the full contract, which an implementation
// must honour (in particular the Expect check of every write).
type Store interface {
	Get(ctx context.Context, bucket, key string) (boltstore.Record, bool, error)
	Submit(ctx context.Context, writes []boltstore.Write, done func(error)) error
}

// closedReporter is implemented by stores that can say they are closed, as
// *boltstore.Store does; a Runtime then refuses reads it could answer from
// its cache once its store is closed, like every other call.
type closedReporter interface {
	Closed() bool
}
