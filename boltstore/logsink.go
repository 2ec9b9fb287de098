package boltstore

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/livefold/livefold/store"
)

// logSink commits every batch as one frame of the write-ahead log with one
// fdatasync; the database file is written later, by checkpoints. Every field
// is owned by the committer goroutine.
type logSink struct {
	s *Store
	// view reads the database file in a read transaction, begun on the first
	// lookup of a batch that misses the log and ended before the frame is
	// written: a checkpoint's write transaction may have to remap the file,
	// which waits for every read transaction.
	view txView
	// frame is the frame being built and accepted the writes in it, with
	// their places in it, for the overlay once the frame is durable.
	frame    []byte
	accepted []pendingWrite
	// retryAt is the log offset at which a failed checkpoint is tried again.
	retryAt int64
}

func newLogSink(s *Store) *logSink { return &logSink{s: s, view: newTxView()} }

func (l *logSink) begin(size int) {
	l.frame = newFrame(size)
}

func (l *logSink) file() (*txView, error) {
	if l.view.tx == nil {
		tx, err := l.s.db.Begin(false)
		if err != nil {
			return nil, fmt.Errorf("begin read: %w", err)
		}
		l.view.reset(tx)
	}
	return &l.view, nil
}

func (l *logSink) add(w *store.Write) error {
	p := pendingWrite{k: bucketKey{w.Bucket, w.Key}, present: !w.Delete}
	if w.Delete {
		l.frame = appendWALWrite(l.frame, w, 0)
	} else {
		l.frame = appendWALWrite(l.frame, w, headerLen+len(w.Record.State))
		p.valStart = len(l.frame)
		l.frame = EncodeRecord(l.frame, w.Record)
		p.valEnd, p.version, p.stamp = len(l.frame), w.Record.Version, w.Record.Stamp
	}
	l.accepted = append(l.accepted, p)
	return nil
}

func (l *logSink) commit() error {
	l.endRead()
	frame := l.s.wal.seal(l.frame)
	if cap(frame) > 2*len(frame) {
		// Rejected requests were counted in the frame's capacity; the
		// overlay keeps the frame until a checkpoint, so keep only what is
		// used.
		frame = slices.Clip(bytes.Clone(frame))
	}
	if err := l.s.wal.append(frame); err != nil {
		return err
	}
	l.s.overlay.set(l.accepted, frame)
	l.s.stats.logBytes.Store(l.s.wal.off)
	return nil
}

func (l *logSink) end() {
	l.endRead()
	// The overlay holds what it needs of the frame; drop the references to
	// callers' keys.
	clear(l.accepted)
	l.accepted = l.accepted[:0]
	l.frame = nil
}

// endRead ends the batch's read transaction, if one was begun.
func (l *logSink) endRead() {
	if l.view.tx != nil {
		_ = l.view.tx.Rollback()
		l.view.reset(nil)
	}
}

// afterBatch checkpoints when a request of the batch asked for it (and gives
// those requests its outcome), or when the log reached its size.
func (l *logSink) afterBatch(batch []request, errs []error, requested bool) {
	w := l.s.wal
	if !requested && (w.off < int64(l.s.cfg.walSize) || w.off < l.retryAt) {
		return
	}
	err := l.checkpoint()
	for i := range batch {
		if batch[i].checkpoint {
			errs[i] = err
		}
	}
}

// checkpoint writes the log's records into the database file in one
// transaction, in key order, with the fold point that says the file holds
// the log up to its end, and starts the log's next generation. On failure
// the log and the overlay stay as they are, so nothing committed is lost,
// and the checkpoint is tried again after another log's worth of commits,
// or at Close.
//
// A failed checkpoint leaves the log as good as before: its frames were
// synced one by one, and the file holds either the old fold point or the
// new one (bbolt writes its meta page last), from both of which Open
// replays exactly the frames the file lacks. So commits go on being
// acknowledged.
func (l *logSink) checkpoint() error {
	w := l.s.wal
	if w.off == 0 {
		return nil // nothing logged since the last checkpoint
	}
	start := time.Now()
	err := w.clean()
	fp := w.foldPoint()
	if err == nil {
		err = l.s.file.write(l.s.overlay, &fp)
	}
	if err != nil {
		records := 0
		for _, b := range l.s.overlay.m {
			records += len(b)
		}
		l.s.stats.failedCheckpoints.Add(1)
		l.retryAt = w.off + int64(l.s.cfg.walSize)
		l.s.cfg.logger.Error("boltstore: checkpoint failed; the log keeps every commit",
			"path", l.s.path, "records", records, "err", err)
		return fmt.Errorf("%w: checkpoint: %w", store.ErrCommit, err)
	}
	l.s.overlay.clear()
	w.folded(fp)
	l.retryAt = 0
	st := &l.s.stats
	d := int64(time.Since(start))
	st.checkpointNanos.Add(d)
	if d > st.maxCheckpointNano.Load() {
		st.maxCheckpointNano.Store(d) // only the committer writes it
	}
	st.checkpoints.Add(1)
	st.logBytes.Store(0)
	return nil
}
