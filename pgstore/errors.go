package pgstore

import "errors"

// Errors of this package. Every other error a Store returns for a reason of
// the storage contract wraps one of the sentinels of package store
// (store.ErrClosed, store.ErrConflict, store.ErrCorrupt, store.ErrCommit,
// the validation errors), so callers branch with errors.Is on those and read
// details from *store.ConflictError and *store.CorruptError with errors.As.
var (
	// ErrServer is returned by Open when the server cannot hold the store:
	// a PostgreSQL older than 12, or a database whose encoding is neither
	// UTF8 nor SQL_ASCII.
	ErrServer = errors.New("pgstore: unsuitable server")
	// ErrSchema is returned by Open when the table exists but lacks a
	// column the store uses.
	ErrSchema = errors.New("pgstore: table does not match the store's schema")
	// ErrOutcomeUnknown is the outcome of the requests of a batch whose
	// connection was lost after its COMMIT was sent, when the database
	// could not be asked, within the commit timeout, whether the commit
	// landed. Each request's writes may or may not be stored: read the
	// records again before relying on them. It does not wrap
	// store.ErrCommit, which promises that nothing was stored.
	ErrOutcomeUnknown = errors.New("pgstore: commit outcome unknown")
)
