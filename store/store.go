package store

import (
	"context"
	"iter"
)

// Limits every store accepts. A store may not refuse a key, a name or a
// request within them; validation ([CheckWrites], [CheckName], [CheckKey])
// refuses what exceeds them, the same way for every store.
const (
	// MaxNameLen is the longest bucket (projection) name, in bytes.
	MaxNameLen = 255
	// MaxKeyLen is the longest key, in bytes.
	MaxKeyLen = 32768
	// MaxRequestBytes is the most one request may write, as measured by
	// [RequestSize].
	MaxRequestBytes = 1 << 30
)

// Store is what a projection runtime persists snapshots in. The package
// documentation states the contract every implementation keeps; the suite in
// store/storetest checks it. All methods are safe for concurrent use.
type Store interface {
	// Get returns the record of key in bucket and whether it exists. The
	// returned State belongs to the caller. Errors: ErrInvalidName,
	// ErrInvalidKey, ErrCorrupt (a damaged record, never interpreted),
	// ErrClosed, ctx's error.
	Get(ctx context.Context, bucket, key string) (Record, bool, error)
	// Submit enqueues writes as one request and reports its outcome through
	// done (which may be nil), as the package documentation describes.
	// Validation errors, ErrClosed and ctx's error (ctx bounds only the wait
	// for room in the queue) are returned synchronously, and then done is
	// never called.
	Submit(ctx context.Context, writes []Write, done func(error)) error
	// Scan yields every record of bucket in key order; see the package
	// documentation. An absent bucket yields nothing.
	Scan(ctx context.Context, bucket string) iter.Seq2[KeyRecord, error]
	// Keys yields every key of bucket that holds a record, damaged or not,
	// in key order, without reading states. A failure to read ends the walk
	// with one last error.
	Keys(ctx context.Context, bucket string) iter.Seq2[string, error]
	// Changes yields the commits other handles of the same data (other
	// processes) make, as they happen, until ctx ends or the feed fails
	// (one last error). A store whose data no other handle can write, or
	// that cannot follow them, yields one error wrapping ErrUnsupported. See
	// Change for what a store must yield after losing track.
	Changes(ctx context.Context) iter.Seq2[Change, error]
	// Closed reports whether Close has begun.
	Closed() bool
	// Close drains accepted requests, reports their outcomes and releases
	// the store; later calls return ErrClosed. A second Close returns nil.
	Close() error
}
