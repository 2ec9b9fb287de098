package store

import "time"

// Record is one stored snapshot.
type Record struct {
	// Version is the number of events folded into State since the key was
	// created or last rebuilt. It is never 0 for a stored record.
	Version uint64
	// Stamp is chosen by the writer for each version it writes, so that two
	// records with the same Version (written by two writers, or before and
	// after a rebuild) can be told apart by an Expect check. A runtime draws
	// stamps that never repeat; 0 is a valid stamp.
	Stamp uint64
	// Lineage identifies the history the versions count in: the writer
	// gives a key a new lineage when it first writes it, and every time it
	// replaces the key's state wholesale (a rebuild), so that a version is
	// only comparable with versions of the same lineage. Stores keep it
	// opaque; 0 means none was given.
	Lineage uint64
	// UpdatedAt is when the writer folded the last event. Stores keep it to
	// the nanosecond and return it in UTC; the zero time reads back as the
	// zero time, and so does every other time (see ValidTime).
	UpdatedAt time.Time
	// Position is the source stream position of the last folded event
	// (0 = none); the runtime uses it to fold each position once.
	Position uint64
	// State is the encoded state, opaque to stores.
	State []byte
}

// Write is one change in a request.
//
// A store keeps the caller's Write slice and Record.State without copying
// them until the request's done callback ran: the caller must not modify
// either before that.
type Write struct {
	// Bucket is the projection name: non-empty, at most MaxNameLen bytes.
	Bucket string
	// Key is non-empty, valid UTF-8 and at most MaxKeyLen bytes.
	Key string
	// Expect and ExpectStamp are the Version and Stamp the record must have
	// when the request is applied, after the earlier requests (also those of
	// the same batch); both 0 means the record must be absent. A mismatch
	// fails the whole request with a *ConflictError.
	Expect      uint64
	ExpectStamp uint64
	// Force applies the write without checking Expect, also over a damaged
	// record: for rebuilds and repair tools, not for ordinary updates.
	Force bool
	// Delete removes the record instead of putting Record. Deleting an absent
	// record succeeds and changes nothing.
	Delete bool
	// Record is the new record, ignored when Delete. Its Version must not be
	// 0.
	Record Record
}

// Change is one commit of a key by another handle of the same data, as
// Changes yields it: the record's new Lineage and Version (0 and 0 for a
// delete). Changes of one key come in commit order. When a store may have
// missed changes (a lost connection, or a feed that began to listen after
// Changes was called), it yields a Change with Reset set and nothing else:
// every key may have changed.
type Change struct {
	Bucket, Key      string
	Lineage, Version uint64
	Reset            bool
}

// KeyRecord is one record yielded by Scan, with its key.
type KeyRecord struct {
	Key    string
	Record Record
}
