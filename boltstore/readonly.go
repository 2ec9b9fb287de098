package boltstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openReadOnly opens an existing file and its log for reading only; see
// WithReadOnly. The Store it returns has no committer: Submit and Commit
// refuse before anything is queued, and Close only closes the file.
func openReadOnly(path string, cfg config) (*Store, error) {
	db, err := bolt.Open(path, fileMode, &bolt.Options{
		ReadOnly:        true,
		Timeout:         lockTimeout(cfg.openTimeout),
		InitialMmapSize: cfg.initialMmapSize,
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %s): %w", ErrLocked, path, cfg.openTimeout, err)
	case err != nil:
		// bbolt opens the file without O_CREATE: a missing file is the
		// *fs.PathError of open(2), which wraps fs.ErrNotExist.
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	// The log is read only now that the lock is held: no writer can append
	// to it or fold it into the file until Close releases the lock.
	data, err := os.ReadFile(walPath(path))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: read log: %w", err)
	}
	writes, err := parseWAL(data)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: log %s: %w", walPath(path), err)
	}
	s := newStore(db, path, cfg)
	s.readOnly = true
	s.overlay = newOverlay()
	s.overlay.replay(writes)
	s.logRecords = len(writes)
	return s, nil
}
