package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/livefold/livefold/store"

	bolt "go.etcd.io/bbolt"
)

// walState is the committer's part of write-ahead logging; every field is
// owned by the committer goroutine.
type walState struct {
	// pending holds the versions of the writes accepted into the frame being
	// built, so later requests of the batch are judged against them.
	pending  map[bucketKey]overlayEntry
	accepted []pendingWrite
	// rtx is a read transaction on the database file, begun on the first
	// lookup of a batch that misses the log and ended before any write
	// transaction (bbolt's remap would wait for it).
	rtx      *bolt.Tx
	rbuckets map[string]*bolt.Bucket
	rcursors map[*bolt.Bucket]*bolt.Cursor
	// retryAt is the log offset at which a failed checkpoint is tried again.
	retryAt int64
}

func newWALState() walState {
	return walState{
		pending:  make(map[bucketKey]overlayEntry),
		rbuckets: make(map[string]*bolt.Bucket),
		rcursors: make(map[*bolt.Bucket]*bolt.Cursor),
	}
}

// commitLogged logs the batch's accepted writes as one frame with one
// fdatasync and fills c.errs; the database file is written later, by
// checkpoints.
func (c *committer) commitLogged() {
	writes, wantCheckpoint := c.prepareErrs()
	if writes > 0 {
		c.logBatch(writes)
	}
	w := c.s.wal
	if wantCheckpoint || (w.off >= int64(c.s.cfg.walSize) && w.off >= c.wal.retryAt) {
		err := c.checkpoint()
		for i := range c.batch {
			if c.batch[i].checkpoint {
				c.errs[i] = err
			}
		}
	}
}

// prepareErrs sizes c.errs for the batch and counts its writes.
func (c *committer) prepareErrs() (writes int, checkpoint bool) {
	if n := len(c.batch); cap(c.errs) < n {
		c.errs = make([]error, n, cap(c.batch))
	} else {
		c.errs = c.errs[:n] // all nil: complete cleared them
	}
	for i := range c.batch {
		writes += len(c.batch[i].writes)
		checkpoint = checkpoint || c.batch[i].checkpoint
	}
	c.s.stats.recordBatch(len(c.batch), writes)
	return writes, checkpoint
}

func (c *committer) logBatch(writes int) {
	st := &c.s.stats
	ws := &c.wal
	clear(ws.pending)
	ws.accepted = ws.accepted[:0]
	size := 0
	for i := range c.batch {
		size += c.batch[i].size
	}
	frame := newFrame(walHeaderSize + size)
	applied, conflicts, corrupt := 0, 0, 0
	for i := range c.batch {
		req := c.batch[i].writes
		if len(req) == 0 {
			continue
		}
		reqErr, txErr := c.judge(req)
		if txErr != nil {
			c.endRead()
			c.fail(txErr, writes)
			return
		}
		if reqErr != nil {
			c.errs[i] = reqErr
			if errors.Is(reqErr, store.ErrConflict) {
				conflicts++
			} else {
				corrupt++
			}
			continue
		}
		for j := range req {
			w := &req[j]
			p := pendingWrite{k: bucketKey{w.Bucket, w.Key}, present: !w.Delete}
			if w.Delete {
				frame = appendWALWrite(frame, w, 0)
			} else {
				frame = appendWALWrite(frame, w, headerLen+len(w.Record.State))
				p.valStart = len(frame)
				frame = EncodeRecord(frame, w.Record)
				p.valEnd, p.version, p.stamp = len(frame), w.Record.Version, w.Record.Stamp
			}
			ws.accepted = append(ws.accepted, p)
			ws.pending[p.k] = overlayEntry{version: p.version, stamp: p.stamp, present: p.present}
		}
		applied += len(req)
	}
	c.endRead()
	if applied == 0 {
		st.recordRejections(conflicts, corrupt)
		return // every request was rejected: nothing to log or sync
	}
	if cap(frame) > 2*len(frame) {
		// Rejected requests were counted in the frame's capacity; the
		// overlay keeps the frame until a checkpoint, so keep only what is
		// used.
		frame = slices.Clip(bytes.Clone(frame))
	}
	start := time.Now()
	if err := c.s.wal.append(frame); err != nil {
		c.fail(err, writes)
		return
	}
	c.s.overlay.set(ws.accepted, frame)
	clear(ws.accepted) // the overlay holds what it needs
	st.recordCommit(applied, time.Since(start))
	st.recordRejections(conflicts, corrupt)
	st.logBytes.Store(c.s.wal.off)
}

// judge checks every write of one request against the newest committed or
// accepted record; a failed check rejects the whole request (reqErr). txErr
// reports a failure to read the database at all, which fails the batch.
func (c *committer) judge(req []store.Write) (reqErr, txErr error) {
	for i := range req {
		w := &req[i]
		e, reqErr, txErr := c.current(w)
		if reqErr != nil || txErr != nil {
			return reqErr, txErr
		}
		if err := store.CheckExpect(w, e.present, e.version, e.stamp); err != nil {
			return err, nil
		}
	}
	return nil, nil
}

// current returns the record w replaces (present false: absent): from the
// batch being built, else the log, else the database file. With w.Force it
// does not decode a record of the file, which may be damaged.
func (c *committer) current(w *store.Write) (e overlayEntry, reqErr, txErr error) {
	k := bucketKey{w.Bucket, w.Key}
	if e, ok := c.wal.pending[k]; ok {
		return e, nil, nil
	}
	if e, ok := c.s.overlay.lookup(w.Bucket, w.Key); ok {
		return e, nil, nil
	}
	b, err := c.readBucket(w.Bucket)
	if err != nil || b == nil {
		return overlayEntry{}, nil, err
	}
	cur := c.wal.rcursors[b]
	if cur == nil {
		cur = b.Cursor()
		c.wal.rcursors[b] = cur
	}
	c.keyBuf = append(c.keyBuf[:0], w.Key...)
	key, v := cur.Seek(c.keyBuf)
	if key == nil || !bytes.Equal(key, c.keyBuf) {
		return overlayEntry{}, nil, nil
	}
	if v == nil {
		// A checkpoint could not put a record over a nested bucket.
		return overlayEntry{}, &store.CorruptError{Bucket: w.Bucket, Key: w.Key, Reason: "key holds a nested bucket, not a record"}, nil
	}
	if w.Force {
		return overlayEntry{present: true}, nil, nil
	}
	rec, err := DecodeRecord(v)
	if err != nil {
		return overlayEntry{}, store.Located(err, w.Bucket, w.Key), nil
	}
	return overlayEntry{present: true, version: rec.Version, stamp: rec.Stamp}, nil, nil
}

// readBucket returns the read transaction's handle of name, nil if absent.
func (c *committer) readBucket(name string) (*bolt.Bucket, error) {
	ws := &c.wal
	if b, ok := ws.rbuckets[name]; ok {
		return b, nil
	}
	if ws.rtx == nil {
		tx, err := c.s.db.Begin(false)
		if err != nil {
			return nil, fmt.Errorf("begin read: %w", err)
		}
		ws.rtx = tx
	}
	c.nameBuf = append(c.nameBuf[:0], name...)
	b := ws.rtx.Bucket(c.nameBuf)
	ws.rbuckets[name] = b
	return b, nil
}

// endRead ends the batch's read transaction, if one was begun.
func (c *committer) endRead() {
	ws := &c.wal
	if ws.rtx != nil {
		_ = ws.rtx.Rollback()
		ws.rtx = nil
	}
	clear(ws.rbuckets)
	clear(ws.rcursors)
}

// checkpoint writes the log's records into the database file in one
// transaction, in key order, and restarts the log. On failure the log and the
// overlay stay as they are, so nothing committed is lost, and the checkpoint
// is tried again after another log's worth of commits, or at Close.
func (c *committer) checkpoint() error {
	o := c.s.overlay
	if len(o.m) == 0 {
		if c.s.wal.off == 0 {
			return nil
		}
		return c.restartLog()
	}
	start := time.Now()
	err := applyToDB(c.s.db, func(yield func(bucket, key string, del bool, value []byte) error) error {
		var keys []string
		for _, bucket := range slices.Sorted(maps.Keys(o.m)) {
			b := o.m[bucket]
			keys = slices.AppendSeq(keys[:0], maps.Keys(b))
			slices.Sort(keys)
			for _, k := range keys {
				e := b[k]
				if err := yield(bucket, k, !e.present, e.value); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		records := 0
		for _, b := range o.m {
			records += len(b)
		}
		c.s.stats.failedCheckpoints.Add(1)
		c.wal.retryAt = c.s.wal.off + int64(c.s.cfg.walSize)
		c.s.cfg.logger.Error("boltstore: checkpoint failed; the log keeps every commit",
			"path", c.s.path, "records", records, "err", err)
		return fmt.Errorf("%w: checkpoint: %w", store.ErrCommit, err)
	}
	o.clear()
	if err := c.restartLog(); err != nil {
		return err
	}
	c.wal.retryAt = 0
	st := &c.s.stats
	d := int64(time.Since(start))
	st.checkpointNanos.Add(d)
	if d > st.maxCheckpointNano.Load() {
		st.maxCheckpointNano.Store(d) // only the committer writes it
	}
	st.checkpoints.Add(1)
	st.logBytes.Store(0)
	return nil
}

// restartLog starts the log over after its records reached the file. If
// that fails the log stays as it is: replaying it again is harmless, since
// its records are the file's.
func (c *committer) restartLog() error {
	if err := c.s.wal.restart(); err != nil {
		c.s.cfg.logger.Error("boltstore: cannot restart the log; it keeps growing", "path", c.s.path, "err", err)
		c.wal.retryAt = c.s.wal.off + int64(c.s.cfg.walSize)
		return fmt.Errorf("%w: %w", store.ErrCommit, err)
	}
	return nil
}

// applyToDB puts and deletes records in one transaction of db: the
// checkpoint and the recovery of the log at Open share it.
func applyToDB(db *bolt.DB, writes func(yield func(bucket, key string, del bool, value []byte) error) error) error {
	tx, err := db.Begin(true)
	if err != nil {
		return err
	}
	buckets := map[string]*bolt.Bucket{}
	err = writes(func(bucket, key string, del bool, value []byte) error {
		b, ok := buckets[bucket]
		if !ok {
			b = tx.Bucket([]byte(bucket))
		}
		if b == nil && !del {
			var err error
			if b, err = tx.CreateBucket([]byte(bucket)); err != nil {
				return fmt.Errorf("create bucket %q: %w", bucket, err)
			}
		}
		buckets[bucket] = b
		switch {
		case del && b != nil:
			if err := b.Delete([]byte(key)); err != nil {
				return fmt.Errorf("delete bucket %q key %q: %w", bucket, store.QuoteKey(key), err)
			}
		case !del:
			if err := b.Put([]byte(key), value); err != nil {
				return fmt.Errorf("put bucket %q key %q: %w", bucket, store.QuoteKey(key), err)
			}
		}
		return nil
	})
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
