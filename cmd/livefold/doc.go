// Command livefold inspects livefold files: the bbolt files in which
// boltstore keeps one bucket per projection and one record per key.
//
// Usage:
//
//	livefold <command> [flags] FILE [args]
//
// Commands:
//
//	projections FILE                 list projections with key counts and sizes
//	keys FILE PROJECTION             list keys with version and updated_at
//	get FILE PROJECTION KEY          print one snapshot as JSON
//	stats FILE                       file, page and per-projection statistics
//	verify FILE                      check every record and bbolt's pages
//	compact FILE DEST                write a compacted copy of FILE to DEST
//	log [-salvage] FILE              show the write-ahead log's frames; salvage a damaged one
//	help [COMMAND]                   show help
//
// Flags may come before, between or after the arguments; "--" ends them, so a
// key starting with "-" can be given after it.
//
// # Guarantees
//
// Every command except compact and log -salvage opens FILE read-only (bbolt's
// shared lock and a read-only mapping) and modifies nothing; compact only
// reads FILE and creates DEST, which it refuses to overwrite and deletes
// again if the copy fails. log -salvage, asked for explicitly, keeps a copy
// of a damaged log and replays its intact frames into FILE. A missing FILE
// is never created, nor is a log beside it.
//
// Records are read through boltstore opened with boltstore.WithReadOnly, the
// way the application reads them. A write-ahead log left beside FILE (FILE
// plus "-wal", and "-wal2" from the store's first checkpoint on) by a store
// that stopped without Close holds commits that store
// acknowledged and FILE lacks: it is replayed in memory, never written, so
// projections, keys and get show those commits, with a note on stderr.
// verify verifies them with the file's records but does not say ok: it exits
// with status 1 and says how many records the log holds. compact refuses
// while the log holds records, since a copy of FILE would lose them. Opening
// the store once with boltstore.Open and closing it folds the log into FILE.
// stats shows bbolt's statistics of FILE alone and counts the log's records.
// A log that boltstore refuses (damaged, or of another file or history) makes
// every command but log fail; log shows its frames.
//
// FILE locked by a process or boltstore.Store that writes to it cannot be
// opened: after -timeout (default 500ms) the command fails with "file is in
// use by another process". Readers do not block each other.
//
// Record values are verified (format byte, checksum, version) by boltstore
// before any field of them is shown; a damaged record is reported as damaged
// and its bytes are never interpreted. verify reports a projection none of
// whose records is a livefold record (a bucket of a bbolt file livefold did
// not write) once, not record by record.
//
// # Output
//
// Times are RFC 3339 in UTC with nanoseconds; a zero time is shown as "-"
// (text) or null (JSON). projections, keys, stats and verify print text, or
// JSON with -json; get always prints JSON:
//
//	{"key": ..., "version": ..., "updated_at": ..., "position": ..., "state": ...}
//
// The state is the record's msgpack bytes decoded without knowing the Go type:
// maps become JSON objects (non-string keys are written with fmt's %v, or
// base64 for binary keys), msgpack binary values ([]byte fields) become base64
// strings, timestamps RFC 3339 strings, NaN and infinities the strings "NaN",
// "+Inf" and "-Inf". A Go struct is encoded by msgpack as a map of its field
// names, so it shows as an object keyed by field name (or msgpack tag). The
// state is checked before it is decoded, as the projection runtime checks it:
// msgpack whose headers claim more than its bytes hold is reported as
// malformed, never allocated for.
//
// Progress of verify and compact is drawn on stderr as one line rewritten with
// "\r", at most ten times a second, when stderr is a terminal or -progress is
// given (-progress=false turns it off).
//
// # Exit status
//
// 0 on success; 1 when the command failed or found damage (a missing or
// locked file, a file that is not a livefold file, a missing projection or
// key, a damaged record, an existing DEST), for verify and compact when a
// leftover log holds records the file lacks, and for log when there is no log
// or Open would refuse it; 2 for invalid arguments.
//
// A bbolt file that livefold did not write is told apart from a damaged one:
// a projection holding records none of which is a livefold record is said to
// be no livefold projection, in one line, by projections, keys, get and
// verify alike, with the same record count; a file all of whose projections
// are such is no livefold file, and those commands exit with status 1.
//
// # Caveats
//
// bbolt's Compact cannot be cancelled, so once compact started copying it
// runs to the end: the first interrupt is ignored, a second one kills the
// process and may leave a partial DEST, which must then be deleted by hand.
// The other commands stop at the first interrupt.
//
// A file whose bbolt pages are damaged may make bbolt panic while reading; the
// command reports it as a damaged file instead of crashing, and verify lists
// what it found before it stopped. bbolt's page check finds damage that the
// record checksums cannot (a lost page, a broken tree).
package main
