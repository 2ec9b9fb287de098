package boltstore

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"time"

	"github.com/livefold/livefold/store"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openBolt opens the bbolt file at path with opts, so that a damaged file is
// an error wrapping store.ErrCorrupt rather than a panic or a fault: it
// checks what bbolt's Open trusts first (checkFile) and runs the open under
// guard. A file locked for longer than timeout is ErrLocked.
func openBolt(fsys fileSystem, path string, opts *bolt.Options, timeout time.Duration) (*bolt.DB, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	// bbolt's Open leaves its file open, and locked, when it panics; the
	// file is kept here to close it then.
	var file *os.File
	opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	var db *bolt.DB
	err := fsys.bolt(path, func() error {
		return guard(path, func() (err error) {
			db, err = bolt.Open(path, fileMode, opts)
			return err
		})
	})
	if err == nil {
		return db, nil
	}
	if db != nil {
		_ = db.Close()
	} else if file != nil {
		_ = file.Close()
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %s): %w", ErrLocked, path, timeout, err)
	case errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("boltstore: open %s: %w: %w", path, err, store.ErrCorrupt)
	case errors.Is(err, store.ErrCorrupt):
		return nil, err
	}
	// A missing file (read-only) is the *fs.PathError of open(2), which
	// wraps fs.ErrNotExist.
	return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
}

// createFile creates the file at path unless it exists, so that a crash at
// any moment leaves either no file or one that opens. bbolt writes its first
// pages in place and a power cut can tear them, leaving a file that never
// opens again; so the pages and the fold point are written and synced in a
// file of another name, which gets its name by a hard link only then (Open
// syncs the directory before it returns). A crash before the link leaves
// that file (path.new-XXXXXXXX), which holds nothing and may be deleted.
func createFile(fsys fileSystem, path string, cfg config) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // it exists, or bbolt's Open will say what is wrong
	}
	tmp := fmt.Sprintf("%s.new-%08x", path, rand.Uint32())
	f, err := fsys.openFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("boltstore: create %s: %w", path, err)
	}
	_ = f.Close()
	err = func() error {
		db, err := openBolt(fsys, tmp, &bolt.Options{NoSync: cfg.noSync, FreelistType: bolt.FreelistArrayType}, 0)
		if err != nil {
			return err
		}
		fp := newFoldPoint()
		w := &fileWriter{fs: fsys, path: tmp, db: db, fault: func(string, error) {}}
		err = w.write(nil, &fp)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := fsys.link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
			return err // when it exists, another Store created it meanwhile
		}
		return nil
	}()
	if rerr := fsys.remove(tmp); err == nil && rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("boltstore: create %s: %w", path, err)
	}
	return nil // Open syncs the directory before it returns
}

// loadFoldPoint reads the file's fold point; found is false for a file
// without one (see readFoldPoint), for which it returns the zero foldPoint.
func loadFoldPoint(db *bolt.DB, path string) (fp foldPoint, found bool, err error) {
	err = guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			fp, found, err = readFoldPoint(tx)
			return err
		})
	})
	if err != nil {
		return foldPoint{}, false, fmt.Errorf("boltstore: %s: %w", path, err)
	}
	return fp, found, nil
}
