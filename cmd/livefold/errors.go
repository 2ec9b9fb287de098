package main

import "errors"

// Errors of the command. Each one decides the exit status (see exitCode) and
// is wrapped with the file, projection or key it concerns.
var (
	// errUsage: the arguments or flags are invalid; exit status 2.
	errUsage = errors.New("livefold: invalid arguments")
	// errNoFile: FILE does not exist (and was not created).
	errNoFile = errors.New("livefold: no such file")
	// errInUse: another process or Store holds FILE's write lock.
	errInUse = errors.New("livefold: file is in use by another process")
	// errNotLivefold: FILE is empty, a directory, or not a bbolt file, or its
	// bbolt meta pages are damaged.
	errNotLivefold = errors.New("livefold: not a livefold file or damaged beyond opening")
	// errDamaged: reading FILE failed inside bbolt's pages (bbolt panicked or
	// its consistency check failed).
	errDamaged = errors.New("livefold: damaged file")
	// errNoProjection: the projection (bucket) does not exist in FILE.
	errNoProjection = errors.New("livefold: projection not found")
	// errNoKey: the key does not exist in the projection.
	errNoKey = errors.New("livefold: key not found")
	// errDamagedRecords: keys or verify met records that fail verification;
	// the records themselves are reported with store.ErrCorrupt.
	errDamagedRecords = errors.New("livefold: damaged records found")
	// errState: a verified record's state is not decodable msgpack.
	errState = errors.New("livefold: state cannot be decoded")
	// errLogPending: a write-ahead log beside FILE holds commits that FILE
	// lacks; verify and compact report it after what they checked.
	errLogPending = errors.New("livefold: the file lacks commits of its write-ahead log")
	// errForeignFile: FILE is a bbolt file, but none of its projections
	// holds a livefold record: another program wrote it.
	errForeignFile = errors.New("livefold: not a livefold file")
	// errForeignProjection: the projection holds records, none of them a
	// livefold record: a bucket of another program.
	errForeignProjection = errors.New("livefold: not a livefold projection")
	// errDestExists: compact refuses to overwrite DEST.
	errDestExists = errors.New("livefold: destination exists")
)
