package boltstore

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// fileWriter commits the write transactions of the bbolt file: those of a
// Store (checkpoints, the replay at Open, commits without a log) and of
// createFile, so that a commit whose sync failed is followed up the same
// way everywhere. Its fields are owned by the committer, which lends it to
// the checkpointer for each checkpoint, or by Open and createFile before
// the committer runs.
//
// bbolt writes a commit's pages, syncs them, then writes the meta page that
// makes them the file's state, syncs that, and goes on from that state (it
// is visible to readers) even when the last sync failed. Linux may mark
// pages whose sync failed clean and never write them, so the disk may keep
// the previous meta page, whose pages the next commit reuses, since the
// failed one freed them: a power cut before that next commit's own meta
// page is durable would leave a file whose newest valid meta page points at
// overwritten pages. So after a failed commit, the meta pages are written
// again, as they are now, and synced before anything else is written.
type fileWriter struct {
	fs   fileSystem
	path string
	db   *bolt.DB
	// unsynced, when set, says why the meta pages must be synced again
	// before the next commit: a commit failed, or the file was just opened
	// (a Store of this process that stopped after a failed commit may have
	// left a meta page in the page cache that never reaches the disk).
	unsynced error
	// broken, when set, is why nothing is written any more: a commit that
	// bbolt went on from failed its sync, and so did the meta pages' sync
	// after it. Writing on would make durable a commit reported failed.
	broken error
	// fault counts and logs a failed sync of the file.
	fault func(op string, err error)
}

// errOpened is why the meta pages of a file just opened are synced before
// its first commit.
var errOpened = errors.New("opened")

// commit commits tx, a write transaction of the file, through fs.bolt. When
// the commit fails after bbolt made it the file's state (its meta page
// written, only the last sync failed), the meta pages are synced again at
// once: if that works, the commit is durable and commit returns nil. An
// error other than bbolt's refusal to grow past WithMaxSize, which comes
// before anything is written, leaves the meta pages to be synced before
// the next commit.
func (w *fileWriter) commit(tx *bolt.Tx) error {
	if w.broken != nil {
		return w.broken
	}
	if err := w.repair(); err != nil {
		return err
	}
	id := tx.ID()
	err := w.fs.bolt(w.path, tx.Commit)
	if err == nil || errors.Is(err, berrors.ErrMaxSizeReached) {
		return err
	}
	w.unsynced = err
	w.fault("commit", err)
	rerr := w.repair()
	switch applied := w.applied(id); {
	case applied && rerr == nil:
		return nil
	case applied:
		w.broken = fmt.Errorf("boltstore: %s is not written again until the store is reopened: "+
			"a commit failed its sync after bbolt went on from it, and so did the sync after it: %w", w.path, err)
	}
	return err
}

// applied says whether the file's state is that of write transaction id
// or a later one.
func (w *fileWriter) applied(id int) bool {
	tx, err := w.db.Begin(false)
	if err != nil {
		return false
	}
	defer func() { _ = tx.Rollback() }()
	return tx.ID() >= id
}

// repair syncs the meta pages if they must be (see unsynced).
func (w *fileWriter) repair() error {
	if w.unsynced == nil {
		return nil
	}
	if err := syncMetaPages(w.fs, w.path, w.db.Info().PageSize); err != nil {
		w.fault("sync meta pages", err)
		return fmt.Errorf("boltstore: sync the meta pages of %s after %v: %w", w.path, w.unsynced, err)
	}
	w.unsynced = nil
	return nil
}

// syncMetaPages writes bbolt's two meta pages of the file at path again,
// with the bytes they hold now, and syncs them. It writes nothing bbolt's
// readers would see change, and must not run during a commit.
func syncMetaPages(fsys fileSystem, path string, pageSize int) error {
	f, err := fsys.openFile(path, os.O_RDWR)
	if err != nil {
		return err
	}
	defer f.Close()
	metas := make([]byte, 2*pageSize)
	if _, err := f.ReadAt(metas, 0); err != nil {
		return err
	}
	if _, err := f.WriteAt(metas, 0); err != nil {
		return err
	}
	return f.sync()
}

// denseFill is the FillPercent of the buckets a checkpoint writes. bbolt
// splits a page that overflows into pages filled to the bucket's
// FillPercent, 50% by default, which suits keys that arrive in random order
// (each page has room for the keys that will land in it later). A
// checkpoint writes its keys in order, so every page it splits is followed
// by the pages of the keys after it: filling them leaves no half-empty pages
// behind. See BENCHMARKS.md for the file sizes it gives.
const denseFill = 1.0

// write writes recs (nil: none) into the file in one write transaction, in
// bucket and key order with pages filled densely, together with the fold
// point fp (nil: unchanged): a checkpoint, the replay of a log at Open, and
// the fold point of a new file. It runs under guard, so that a damaged page
// fails it instead of crashing the process. recs and their values must stay
// untouched until it returned.
func (w *fileWriter) write(recs records, fp *foldPoint) error {
	return guard(w.path, func() error {
		tx, err := w.db.Begin(true)
		if err != nil {
			return err
		}
		// Rolls back a transaction that failed before its commit, or
		// panicked; after a commit it returns ErrTxClosed.
		defer func() { _ = tx.Rollback() }()
		v := newTxView()
		v.reset(tx)
		v.fill = denseFill
		if recs != nil {
			var keys []string
			for _, bucket := range slices.Sorted(maps.Keys(recs)) {
				b := recs[bucket]
				keys = slices.AppendSeq(keys[:0], maps.Keys(b))
				slices.Sort(keys)
				for _, k := range keys {
					e := b[k]
					if err := v.write(bucket, k, !e.present, e.value); err != nil {
						return err
					}
				}
			}
		}
		if fp != nil {
			if err := putFoldPoint(tx, *fp); err != nil {
				return err
			}
		}
		return w.commit(tx)
	})
}
