package boltstore

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

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
	// txRecords bounds the records of one transaction of write; 0 means
	// foldTxRecords. Tests make it small.
	txRecords int
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

// denseFill is the FillPercent of a bucket when a checkpoint inserts its
// keys in runs: most keys of the checkpoint land next to the key before
// them, with no key of the file in between, as keys appended after the last
// do. bbolt splits a page that overflows into pages filled to the bucket's
// FillPercent, bbolt.DefaultFillPercent (50%) unless set, which suits keys
// that land one by one between others: each page keeps room for the keys
// that will land in it later, and filled to the brim, a page that takes one
// more key splits into a full page and a nearly empty one (that left the
// leaves of a file written in scattered order 37% full). A checkpoint writes
// its keys in order, so a page that a run of them splits is followed by the
// pages of the rest of the run: filling them leaves no half-empty pages
// behind. See BENCHMARKS.md for the file sizes it gives.
const denseFill = 1.0

// foldTxRecords and foldTxBytes bound one write transaction of write, in
// records and in bytes of keys and values. bbolt holds a buffer for every
// page a transaction dirties until it commits, and records of keys spread
// over a large file dirty about a page each: a whole log generation in one
// transaction took a heap that grew with the log, about 35 bytes per byte of
// log (BENCHMARKS.md, "Rebuilding every key"), and a log grows past
// WithWALSize while a checkpoint runs beside the commits.
const (
	foldTxRecords = 4096
	foldTxBytes   = 8 << 20
)

// keyedEntry is a record to write with its key: write sorts them, and then
// needs no lookup in the records' map for each, which with scattered keys
// made a checkpoint take 10-14% longer (BenchmarkFileWriter_Write).
type keyedEntry struct {
	key   string
	entry overlayEntry
}

// write writes recs (nil: none) into the file, in bucket and key order, with
// pages filled densely in buckets whose new keys come in runs (see
// denseFill), and then the fold point fp (nil: unchanged): a
// checkpoint, the replay of a log at Open, and the fold point of a new file.
// It commits a transaction for every txRecords records (foldTxRecords when
// 0) or foldTxBytes, and puts fp in the last one only. So a crash or an error
// in between leaves some of the records in the file under the previous fold
// point, and the log they came from is replayed over them at Open (or folded
// again by the next checkpoint), writing the same values again: a fold is
// idempotent, and readers see the records through the Store's overlay until
// the last transaction committed. It runs under guard, so that a damaged
// page fails it instead of crashing the process. recs and their values must
// stay untouched until it returned.
func (w *fileWriter) write(recs records, fp *foldPoint) error {
	limit := w.txRecords
	if limit <= 0 {
		limit = foldTxRecords
	}
	return guard(w.path, func() error {
		var tx *bolt.Tx
		// Rolls back a transaction that failed before its commit, or
		// panicked.
		defer func() {
			if tx != nil {
				_ = tx.Rollback()
			}
		}()
		v := newTxView()
		begin := func() (err error) {
			if tx, err = w.db.Begin(true); err != nil {
				tx = nil
				return err
			}
			v.reset(tx)
			return nil
		}
		// commit commits tx and rolls back what a failed commit left open
		// (after a commit, Rollback returns ErrTxClosed).
		commit := func() error {
			t := tx
			tx = nil
			v.reset(nil)
			err := w.commit(t)
			_ = t.Rollback()
			return err
		}
		n, size := 0, 0
		// put writes the records of bucket, in ents, committing every
		// limit records, with the bucket's pages filled to fill.
		put := func(bucket string, ents []keyedEntry, fill float64) error {
			for i := range ents {
				k, e := ents[i].key, &ents[i].entry
				if tx == nil {
					if err := begin(); err != nil {
						return err
					}
				}
				v.setFill(bucket, fill)
				if err := v.write(bucket, k, !e.present, e.value); err != nil {
					return err
				}
				n, size = n+1, size+len(k)+len(e.value)
				if n >= limit || size >= foldTxBytes {
					if err := commit(); err != nil {
						return err
					}
					n, size = 0, 0
				}
			}
			return nil
		}
		var ents []keyedEntry
		for _, bucket := range slices.Sorted(maps.Keys(recs)) {
			ents = slices.Grow(ents[:0], len(recs[bucket]))
			for k, e := range recs[bucket] {
				ents = append(ents, keyedEntry{key: k, entry: e})
			}
			slices.SortFunc(ents, func(a, b keyedEntry) int { return strings.Compare(a.key, b.key) })
			if tx == nil {
				if err := begin(); err != nil {
					return err
				}
			}
			fill, err := v.fillFor(bucket, ents)
			if err != nil {
				return err
			}
			if err := put(bucket, ents, fill); err != nil {
				return err
			}
		}
		if fp == nil && tx == nil && recs != nil {
			return nil // the last records filled a transaction
		}
		if tx == nil {
			if err := begin(); err != nil {
				return err
			}
		}
		if fp != nil {
			if err := putFoldPoint(tx, *fp); err != nil {
				return err
			}
		}
		return commit()
	})
}
