package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openReadOnly opens the livefold file at path for reading only: bbolt takes
// a shared lock, so it fails while a writer (a boltstore.Store) has the file
// open, and maps the file read-only, so that nothing can modify it.
//
// It never creates path. timeout bounds the wait for the lock (a
// non-positive timeout tries once: bbolt's 0 would wait for ever).
// loadFreelist reads the freelist, which stats and verify need and the other
// commands skip.
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

// openError maps bbolt's open errors to the command's.
func openError(path string, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
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

// openFile is openReadOnly plus a warning on stderr when a write-ahead log
// beside the file holds data: a store that stopped without Close left commits
// there that the file may lack until the store is opened again.
func (e *env) openFile(path string, timeout time.Duration, loadFreelist bool) (*bolt.DB, error) {
	db, err := openReadOnly(path, timeout, loadFreelist)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		fmt.Fprintf(e.stderr, "livefold: warning: %s-wal holds %d bytes of commits that %s may lack; "+
			"open the store once with boltstore.Open to fold them in\n", path, fi.Size(), path)
	}
	return db, nil
}
