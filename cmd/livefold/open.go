package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/livefold/livefold/boltstore"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// foldAdvice says how to bring a leftover log's commits into the file: a
// writable Store replays the log at Open and folds it in at Close.
const foldAdvice = "open the store once with boltstore.Open and Close it to fold them into the file"

// openStore opens FILE as a read-only boltstore.Store, the way every command
// reads records: a log left beside the file by a store that stopped without
// Close is replayed in memory, so the commits that store acknowledged are
// shown, while the file and the log stay byte for byte as they were. The
// store takes bbolt's shared lock, so it fails while a writer holds the file
// and keeps writers out until it is closed.
//
// It never creates path. timeout bounds the wait for the lock (a
// non-positive timeout tries once). When the log holds records the file
// lacks, it says so on stderr unless quiet: verify and compact report the
// log themselves.
func (e *env) openStore(path string, timeout time.Duration, quiet bool) (*boltstore.Store, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	st, err := boltstore.Open(path, boltstore.WithReadOnly(), boltstore.WithOpenTimeout(timeout))
	if err != nil {
		return nil, openError(path, timeout, err)
	}
	if n := st.LogRecords(); n > 0 && !quiet {
		fmt.Fprintf(e.stderr, "livefold: note: %s; they are shown as that store would serve them; %s\n",
			logNote(path, n), foldAdvice)
	}
	return st, nil
}

// logNote says that the log beside path holds n records the file lacks.
func logNote(path string, n int) string {
	return fmt.Sprintf("the log beside %s (%s-wal, %s-wal2) holds %d record(s) that it lacks, committed by a store that stopped without Close",
		path, path, path, n)
}

// openReadOnly opens the livefold file at path with bbolt alone, for what
// only bbolt can tell (its page check, its statistics) and for compact's
// copy: bbolt takes a shared lock, so it fails while a writer (a
// boltstore.Store) has the file open, and maps the file read-only, so that
// nothing can modify it. It sees the file only, not the log beside it.
//
// It never creates path. timeout bounds the wait for the lock (a
// non-positive timeout tries once: bbolt's 0 would wait for ever).
// loadFreelist reads the freelist, which stats needs and the other commands
// skip.
func openReadOnly(path string, timeout time.Duration, loadFreelist bool) (*bolt.DB, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = time.Nanosecond
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		ReadOnly:        true,
		Timeout:         timeout,
		PreLoadFreelist: loadFreelist,
	})
	if err != nil {
		return nil, openError(path, timeout, err)
	}
	return db, nil
}

// checkFile reports a path that bbolt must not be given: a missing file
// (bbolt would create it in read-write mode), a directory, or an empty file
// (bbolt would try to initialise it).
func checkFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s", errNoFile, path)
	case err != nil:
		return fmt.Errorf("livefold: %w", err)
	case fi.IsDir():
		return fmt.Errorf("%w: %s is a directory", errNotLivefold, path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file", errNotLivefold, path)
	case fi.Size() == 0:
		return fmt.Errorf("%w: %s is empty", errNotLivefold, path)
	}
	return nil
}

// openError maps the open errors of bbolt and boltstore to the command's.
func openError(path string, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout), errors.Is(err, boltstore.ErrLocked):
		return fmt.Errorf("%w: %s (a boltstore.Store or another writer holds its lock; waited %s)",
			errInUse, path, timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch):
		return fmt.Errorf("%w: %s: %w", errNotLivefold, path, err)
	case errors.Is(err, fs.ErrNotExist):
		// Deleted between checkFile and the open.
		return fmt.Errorf("%w: %s", errNoFile, path)
	}
	return fmt.Errorf("livefold: open %s: %w", path, err)
}
