package boltstore

import (
	"fmt"

	"github.com/livefold/livefold/store"
)

// logSink builds the frames of the write-ahead log, one per batch, which
// the syncer appends with one fdatasync each, and has the checkpointer fold
// the log into the database file. Every field is owned by the committer
// goroutine.
type logSink struct {
	s *Store
	// view reads the database file in a read transaction, begun on the first
	// lookup that misses the log and ended when the frame goes to the syncer
	// and once a checkpoint committed: a checkpoint's write transaction may
	// have to remap the file, which waits for every read transaction, and a
	// transaction begun before it would miss the records it moved out of the
	// overlay.
	view   txView
	folder *checkpointer
	// folding is the fold the checkpointer is doing, nil while it is idle;
	// unfolded is one that failed, tried again before the log turns to its
	// other file again.
	folding, unfolded *fold
	// logged counts the bytes of the frames appended since Open; a failed
	// checkpoint is tried again once it reaches retryAt. current is the
	// bytes of the generation written now, as of the last frame synced.
	logged, retryAt, current int64
}

func newLogSink(s *Store) *logSink {
	return &logSink{s: s, view: newTxView(), folder: newCheckpointer(s.file)}
}

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

// synced records a frame the syncer appended; the syncer is idle.
func (l *logSink) synced(b *batch) {
	l.logged += int64(len(b.sealed))
	l.current = l.s.wal.off
	l.reportBytes()
}

// reportBytes publishes the bytes the log holds that the file lacks: the
// generation written now and one frozen and not yet folded.
func (l *logSink) reportBytes() {
	n := l.current
	if l.folding != nil {
		n += l.folding.size
	}
	if l.unfolded != nil {
		n += l.unfolded.size
	}
	l.s.stats.logBytes.Store(n)
}

// due says whether a checkpoint is to start: none is running, and the
// log reached its size, or after a failed one, the size at which it is
// tried again.
func (l *logSink) due() bool {
	if l.folding != nil || l.logged < l.retryAt {
		return false
	}
	return l.unfolded != nil || l.current >= int64(l.s.cfg.walSize)
}

// startCheckpoint starts a checkpoint beside the committer, which goes on
// committing: a fold that failed is tried again; otherwise the generation
// written so far is frozen and the log turns to its other file, with the
// next generation (see turn). The syncer and the checkpointer are idle.
// A failure is counted and logged, and the checkpoint tried again later.
func (l *logSink) startCheckpoint() {
	if f := l.unfolded; f != nil {
		l.unfolded = nil
		l.launch(f)
		return
	}
	if l.s.wal.off == 0 {
		return // nothing logged since the last checkpoint
	}
	if err := l.turn(false); err != nil {
		_ = l.failed(err, nil)
	}
}

// turn freezes the generation written so far and starts the next one in the
// other log file, and has the checkpointer fold the frozen one, with the
// fold point that says the file holds it all. The next generation's frames
// carry that fold point's sum as their base, so a crash before the fold
// commits replays both generations in turn, and one after it only the
// next. The frozen file is written again only once the file holds it: the
// log turns back to it only after this fold succeeded.
//
// Only a clean log is frozen: a frame that a failed append left valid at
// its end would be replayed after a crash, although its batch was reported
// failed.
//
// With last, for the checkpoint at Close, the fold point is oddNext's.
func (l *logSink) turn(last bool) error {
	w := l.s.wal
	if err := w.clean(); err != nil {
		return err
	}
	fp := w.foldPoint()
	if last {
		fp = fp.oddNext()
	}
	w.folded(fp)
	l.current = 0
	l.launch(&fold{recs: l.s.overlay.freeze(), fp: fp, size: fp.end})
	return nil
}

// launch hands f to the checkpointer.
func (l *logSink) launch(f *fold) {
	l.folding = f
	l.folder.in <- f
	l.reportBytes()
}

// folded takes f back from the checkpointer: once the file holds its
// records the overlay drops them, and a fold that failed is kept for
// another try. It returns f's error, wrapped as a checkpoint's.
//
// A failed fold leaves the log as good as before: its frames were synced
// one by one and the log file it froze is not written until the fold
// succeeds, and the file holds either the old fold point or the new one
// (bbolt writes its meta page last), from both of which Open replays
// exactly the frames the file lacks. So commits go on being acknowledged.
func (l *logSink) folded(f *fold) error {
	l.folding = nil
	if f.err != nil {
		return l.failed(f.err, f)
	}
	l.endRead()
	l.s.overlay.folded()
	l.retryAt = 0
	l.reportBytes()
	st := &l.s.stats
	d := int64(f.took)
	st.checkpointNanos.Add(d)
	if d > st.maxCheckpointNano.Load() {
		st.maxCheckpointNano.Store(d) // only the committer writes it
	}
	st.checkpoints.Add(1)
	return nil
}

// failed counts and logs a checkpoint that failed; f, when not nil, is the
// fold to try again once another log's worth of commits was logged.
func (l *logSink) failed(err error, f *fold) error {
	records := 0
	if f != nil {
		for _, b := range f.recs {
			records += len(b)
		}
	}
	l.unfolded = f
	l.retryAt = l.logged + int64(l.s.cfg.walSize)
	l.reportBytes()
	l.s.stats.failedCheckpoints.Add(1)
	l.s.cfg.logger.Error("boltstore: checkpoint failed; the log keeps every commit",
		"path", l.s.path, "records", records, "err", err)
	return fmt.Errorf("%w: checkpoint: %w", store.ErrCommit, err)
}

// wait waits for the fold the checkpointer is doing and returns its outcome.
func (l *logSink) wait() error {
	return l.folded(<-l.folder.out)
}

// checkpoint folds everything logged into the file and waits until it did,
// for Checkpoint and, with last, Close: the fold running, if any, then one
// that failed, then the generation written now. The syncer is idle.
func (l *logSink) checkpoint(last bool) error {
	// The fold's write transaction may have to remap the file, which waits
	// for every read transaction, this one's too.
	l.endRead()
	if l.folding != nil {
		_ = l.wait() // counted and logged; tried again below
	}
	if f := l.unfolded; f != nil {
		l.unfolded = nil
		l.launch(f)
		if err := l.wait(); err != nil {
			return err
		}
	}
	w := l.s.wal
	switch {
	case w.off > 0:
		if err := l.turn(last); err != nil {
			return l.failed(err, nil)
		}
	case last && w.gen%2 == 0:
		// Nothing to fold, but the next Open would start in the log's
		// other file.
		l.launch(&fold{fp: foldPoint{fileID: w.fileID, gen: w.gen}})
	default:
		return nil
	}
	return l.wait()
}
