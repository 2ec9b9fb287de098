package boltstore

import (
	"errors"
	"fmt"

	"github.com/livefold/livefold/store"
)

// ErrLocked is returned by Open when another process or Store holds the
// file's lock for longer than the open timeout.
//
// Every other error a Store returns for a reason of the storage contract
// wraps one of the sentinels of package store (store.ErrClosed,
// store.ErrConflict, store.ErrCorrupt, store.ErrCommit, the validation
// errors), so callers branch with errors.Is on those and read details from
// *store.ConflictError and *store.CorruptError with errors.As.
var ErrLocked = errors.New("boltstore: file locked by another process or store")

// ErrReadOnly is returned by Submit, Commit and Checkpoint of a Store opened
// with WithReadOnly. It satisfies errors.Is(err, store.ErrUnsupported).
var ErrReadOnly = fmt.Errorf("boltstore: read-only store: %w", store.ErrUnsupported)
