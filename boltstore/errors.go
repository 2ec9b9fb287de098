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

// ErrWrongLog is returned by Open when the write-ahead log beside the file
// does not belong to it: the log of another file, or of another moment of
// this file's history than the file is at (a file restored from an older
// copy beside a newer log, a log of a copy that went its own way).
// Replaying it would mix two histories, so Open changes neither file; move
// the log away to open the file as it is. A log merely older than the
// file's last checkpoint is not refused: Open ignores it, as the file holds
// everything in it.
var ErrWrongLog = errors.New("boltstore: write-ahead log does not belong to the file")

// ErrReadOnly is returned by Submit, Commit and Checkpoint of a Store opened
// with WithReadOnly. It satisfies errors.Is(err, store.ErrUnsupported).
var ErrReadOnly = fmt.Errorf("boltstore: read-only store: %w", store.ErrUnsupported)
