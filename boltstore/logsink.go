package boltstore

import (
	"fmt"
	"time"

	"github.com/livefold/livefold/store"
)

// logSink builds the frames of the write-ahead log, one per batch, which
// the syncer appends with one fdatasync each, and checkpoints the log into
// the database file. Every field is owned by the committer goroutine.
type logSink struct {
	s *Store
	// view reads the database file in a read transaction, begun on the first
	// lookup that misses the log and ended when the frame goes to the syncer
	// and before a checkpoint: a checkpoint's write transaction may have to
	// remap the file, which waits for every read transaction.
	view txView
	// retryAt is the log offset at which a failed checkpoint is tried again.
	retryAt int64
}

func newLogSink(s *Store) *logSink { return &logSink{s: s, view: newTxView()} }

// begin starts b's frame.
func (l *logSink) begin(b *batch) {
	if b.frame == nil {
		b.frame = newFrame(0)
	}
	b.frame = b.frame[:walHeaderSize]
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

// add appends one write of an accepted request to b's frame, and records it
// as the newest of its key for the requests judged after it.
func (l *logSink) add(b *batch, w *store.Write) {
	p := pendingWrite{k: bucketKey{w.Bucket, w.Key}, present: !w.Delete}
	if w.Delete {
		b.frame = appendWALWrite(b.frame, w, 0)
	} else {
		b.frame = appendWALWrite(b.frame, w, headerLen+len(w.Record.State))
		p.valStart = len(b.frame)
		b.frame = EncodeRecord(b.frame, w.Record)
		p.valEnd, p.version, p.stamp = len(b.frame), w.Record.Version, w.Record.Stamp
	}
	b.accepted = append(b.accepted, p)
	b.pending[p.k] = overlayEntry{present: p.present, version: p.version, stamp: p.stamp}
}

// seal ends b's read of the file and makes b.sealed, the frame the syncer
// writes: a copy of the frame built, sized to fit, since the overlay keeps
// it until a checkpoint while b's buffer is reused.
func (l *logSink) seal(b *batch) {
	l.endRead()
	n := len(b.frame)
	sealed := make([]byte, n, frameSize(n-walHeaderSize))
	copy(sealed, b.frame)
	b.sealed = l.s.wal.seal(sealed)
}

// endRead ends the read transaction, if one was begun.
func (l *logSink) endRead() {
	if l.view.tx != nil {
		_ = l.view.tx.Rollback()
		l.view.reset(nil)
	}
}

// due says whether the log reached the size at which it is checkpointed
// (or, after a failed checkpoint, the size at which that is tried again).
func (l *logSink) due() bool {
	off := l.s.wal.off
	return off >= int64(l.s.cfg.walSize) && off >= l.retryAt
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
//
// It runs on the committer while the syncer is idle, which then owns the
// log.
func (l *logSink) checkpoint() error {
	w := l.s.wal
	if w.off == 0 {
		return nil // nothing logged since the last checkpoint
	}
	l.endRead()
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
