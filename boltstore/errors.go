package boltstore

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns satisfies errors.Is with at
// least one of these (or is a context error), so callers branch on the sentinel
// and read details from the typed errors (*ConflictError, *CorruptError) with
// errors.As.
var (
	// ErrClosed is returned by every method called after Close began, and by
	// Submit calls that were still waiting for queue space when Close began.
	ErrClosed = errors.New("boltstore: store closed")
	// ErrLocked is returned by Open when another process or Store holds the
	// file's lock for longer than the open timeout.
	ErrLocked = errors.New("boltstore: file locked by another process or store")
	// ErrCorrupt is satisfied by every *CorruptError: a stored record whose
	// bytes fail the format or checksum verification.
	ErrCorrupt = errors.New("boltstore: corrupt record")
	// ErrConflict is satisfied by every *ConflictError: a write whose Expect
	// did not match the version on disk.
	ErrConflict = errors.New("boltstore: version conflict")
	// ErrCommit wraps the cause when a write transaction or its fsync failed;
	// nothing of the failed transaction is on disk.
	ErrCommit = errors.New("boltstore: commit failed")
	// ErrInvalidKey is returned synchronously by Submit, Commit and Get for an
	// empty key or one longer than bbolt.MaxKeySize bytes.
	ErrInvalidKey = errors.New("boltstore: invalid key")
	// ErrInvalidBucket is returned synchronously for an empty bucket name or
	// one longer than MaxBucketLen bytes.
	ErrInvalidBucket = errors.New("boltstore: invalid bucket")
	// ErrInvalidRecord is returned synchronously by Submit and Commit for a
	// record that cannot be stored: Version 0, an UpdatedAt outside the years
	// 1678..2262 (not representable in int64 nanoseconds), or an encoded size
	// above bbolt.MaxValueSize.
	ErrInvalidRecord = errors.New("boltstore: invalid record")
	// ErrDuplicateWrite is returned synchronously when one request names the
	// same bucket and key twice; Expect would be ambiguous.
	ErrDuplicateWrite = errors.New("boltstore: duplicate write in one request")
	// ErrReentrant is returned by Commit and Close called from inside a done
	// callback, and by Submit called there when the queue is full: waiting
	// would wait for the committer that runs the callback.
	ErrReentrant = errors.New("boltstore: called from inside a done callback")
)

// ConflictError reports a write whose Expect did not match the version of the
// record on disk at the moment the committer checked it (after the earlier
// requests of the same transaction). Only the request containing the write
// fails; the rest of the batch commits.
type ConflictError struct {
	Bucket   string
	Key      string
	Expected uint64 // the write's Expect
	Actual   uint64 // version found; 0 when the record was absent
}

// Error describes the conflict, naming bucket and key.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("boltstore: version conflict: bucket %q key %q: expected version %d, found %d",
		e.Bucket, quoteKey(e.Key), e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// CorruptError reports a stored record whose bytes fail verification. Bucket
// and Key are empty when it comes from DecodeRecord, which has no location.
type CorruptError struct {
	Bucket string
	Key    string
	Reason string // what failed: length, format byte, checksum, ...
}

// Error describes the damage, naming bucket and key when known.
func (e *CorruptError) Error() string {
	if e.Bucket == "" && e.Key == "" {
		return "boltstore: corrupt record: " + e.Reason
	}
	return fmt.Sprintf("boltstore: corrupt record: bucket %q key %q: %s", e.Bucket, quoteKey(e.Key), e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// quoteKey shortens keys for messages: a key may be 32 KiB long, and a log
// line naming it should stay readable.
func quoteKey(k string) string {
	const max = 64
	if len(k) <= max {
		return k
	}
	return k[:max] + "..."
}
