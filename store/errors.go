package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error a store returns for a reason this package
// names satisfies errors.Is with the sentinel; details are in the typed
// errors (*ConflictError, *CorruptError), read with errors.As.
var (
	// ErrClosed: the store is closed, or closing: every call after Close
	// began, and Submits that were still waiting for queue space then.
	ErrClosed = errors.New("store: closed")
	// ErrCorrupt is satisfied by every *CorruptError: a stored record whose
	// bytes fail verification.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrConflict is satisfied by every *ConflictError: a write whose Expect
	// did not match the stored record.
	ErrConflict = errors.New("store: version conflict")
	// ErrCommit wraps the cause when a commit failed as a whole (a write or
	// sync of the storage, a lost connection); nothing of it was stored.
	ErrCommit = errors.New("store: commit failed")
	// ErrInvalidKey: a key that is empty, longer than MaxKeyLen bytes or not
	// valid UTF-8.
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrInvalidName: a bucket (projection) name that is empty, longer than
	// MaxNameLen bytes or not valid UTF-8.
	ErrInvalidName = errors.New("store: invalid bucket name")
	// ErrInvalidRecord: a record that cannot be stored (Version 0, an
	// UpdatedAt outside the int64-nanosecond range), or a request larger
	// than MaxRequestBytes.
	ErrInvalidRecord = errors.New("store: invalid record")
	// ErrDuplicateWrite: one request names the same bucket and key twice,
	// which would make Expect ambiguous.
	ErrDuplicateWrite = errors.New("store: duplicate write in one request")
	// ErrUnsupported: the store cannot do what was asked.
	ErrUnsupported = errors.New("store: not supported")
)

// ConflictError reports a write whose Expect did not match the record found
// when the request was applied. Only the request containing the write fails;
// the rest of the batch commits.
type ConflictError struct {
	Bucket        string
	Key           string
	Expected      uint64 // the write's Expect
	ExpectedStamp uint64 // the write's ExpectStamp
	Actual        uint64 // the version found; 0 when the record was absent
	ActualStamp   uint64 // the stamp found; 0 when the record was absent
}

// Error describes the conflict, naming bucket and key.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: version conflict: bucket %q key %q: expected version %d (stamp %x), found %d (stamp %x)",
		e.Bucket, QuoteKey(e.Key), e.Expected, e.ExpectedStamp, e.Actual, e.ActualStamp)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// CorruptError reports a stored record whose bytes fail verification. Bucket
// and Key are empty when the location is not known (a decoder of bytes
// alone).
type CorruptError struct {
	Bucket string
	Key    string
	Reason string // what failed: length, format byte, checksum, ...
}

// Error describes the damage, naming bucket and key when known.
func (e *CorruptError) Error() string {
	if e.Bucket == "" && e.Key == "" {
		return "store: corrupt record: " + e.Reason
	}
	return fmt.Sprintf("store: corrupt record: bucket %q key %q: %s", e.Bucket, QuoteKey(e.Key), e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Located returns err with bucket and key filled in when it is a
// *CorruptError without a location, and err unchanged otherwise.
func Located(err error, bucket, key string) error {
	var ce *CorruptError
	if errors.As(err, &ce) && ce.Bucket == "" && ce.Key == "" {
		return &CorruptError{Bucket: bucket, Key: key, Reason: ce.Reason}
	}
	return err
}

// QuoteKey shortens a key for messages: a key may be 32 KiB long, and a log
// line naming it should stay readable.
func QuoteKey(k string) string {
	const max = 64
	if len(k) <= max {
		return k
	}
	return k[:max] + "..."
}
