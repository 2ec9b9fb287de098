package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/livefold/livefold/store"

	bolt "go.etcd.io/bbolt"
)

// maxRetainedArena is the largest value arena kept between batches; one batch
// of huge states should not pin its memory for the life of the Store.
const maxRetainedArena = 4 << 20

// maxBatchBytes bounds a batch by the bytes of its records as well as by its
// number of requests: the committer stops taking requests once a batch holds
// this much, so with store.MaxRequestBytes per request a log frame stays far below
// the 4 GiB its length field can describe.
const maxBatchBytes = 64 << 20

// committer is the state of the Store's single committer goroutine. Every
// field is owned by that goroutine; nothing else touches it.
type committer struct {
	s *Store
	// batch and errs are reused for every batch: errs[i] is the outcome of
	// batch[i].
	batch []request
	errs  []error
	// arena holds the encoded values of one transaction; bbolt requires a
	// Put value to stay untouched until the commit, so it is reset only
	// after the commit.
	arena []byte
	// keyBuf and nameBuf turn strings into the []byte bbolt wants without an
	// allocation per write; bbolt copies the keys it keeps.
	keyBuf  []byte
	nameBuf []byte
	// buckets caches the transaction's bucket handles; nil means absent.
	buckets map[string]*bolt.Bucket
	// cursors caches one cursor per bucket for the Expect checks: a Seek
	// rebuilds the cursor's path from the root, also after Puts, and reusing
	// the cursor reuses its path's memory.
	cursors map[*bolt.Bucket]*bolt.Cursor
	// wal is the state of the logged commit path, used when the Store has a
	// write-ahead log.
	wal walState
}

func newCommitter(s *Store) *committer {
	return &committer{
		s:       s,
		batch:   make([]request, 0, min(s.cfg.maxBatch, 256)),
		buckets: make(map[string]*bolt.Bucket),
		cursors: make(map[*bolt.Bucket]*bolt.Cursor),
		wal:     newWALState(),
	}
}

// run takes batches off the queue until Close closes it and everything queued
// was handled. It waits for the first request of a batch, then takes whatever
// else is already queued without waiting, so a lone caller never waits for
// company.
func (c *committer) run() {
	defer close(c.s.stopped)
	for {
		req, ok := <-c.s.queue
		if !ok {
			if c.s.wal != nil {
				// Fold the log in before the file closes, so the file
				// alone holds every commit.
				c.s.finalCheckpoint = c.checkpoint()
			}
			return
		}
		c.batch = append(c.batch[:0], req)
		size := req.size
	drain:
		for len(c.batch) < c.s.cfg.maxBatch && size < maxBatchBytes {
			select {
			case req, ok := <-c.s.queue:
				if !ok {
					break drain
				}
				c.batch = append(c.batch, req)
				size += req.size
			default:
				break drain
			}
		}
		if c.s.wal != nil {
			c.commitLogged()
		} else {
			c.commit()
		}
		c.complete()
		clear(c.batch) // drop references to callers' writes and callbacks
		c.batch = c.batch[:0]
	}
}

// commit runs one transaction for the whole batch and fills c.errs.
func (c *committer) commit() {
	writes, _ := c.prepareErrs()
	st := &c.s.stats
	if writes == 0 {
		return // only empty requests: nothing to write, nothing to fsync
	}

	start := time.Now()
	tx, err := c.s.db.Begin(true)
	if err != nil {
		c.fail(err, writes)
		return
	}
	applied, conflicts, corrupt := 0, 0, 0
	for i := range c.batch {
		reqErr, txErr := c.apply(tx, c.batch[i].writes)
		if txErr != nil {
			_ = tx.Rollback()
			c.resetTx()
			c.fail(txErr, writes)
			return
		}
		c.errs[i] = reqErr
		switch {
		case reqErr == nil:
			applied += len(c.batch[i].writes)
		case errors.Is(reqErr, store.ErrConflict):
			conflicts++
		default:
			corrupt++
		}
	}
	// Rejections count only once the transaction they were judged in
	// committed; otherwise every request gets store.ErrCommit instead.
	if applied == 0 {
		_ = tx.Rollback() // every request was rejected: skip the fsync
		c.resetTx()
		st.recordRejections(conflicts, corrupt)
		return
	}
	err = tx.Commit()
	c.resetTx()
	if err != nil {
		c.fail(err, writes)
		return
	}
	st.recordCommit(applied, time.Since(start))
	st.recordRejections(conflicts, corrupt)
}

// apply checks every Expect of one request, then applies its writes. reqErr
// rejects only this request (nothing of it was written); txErr means the
// transaction itself is failing and must be rolled back.
func (c *committer) apply(tx *bolt.Tx, writes []store.Write) (reqErr, txErr error) {
	for i := range writes {
		if err := c.check(tx, &writes[i]); err != nil {
			return err, nil
		}
	}
	for i := range writes {
		w := &writes[i]
		b, err := c.bucket(tx, w.Bucket, !w.Delete)
		if err != nil {
			return nil, err
		}
		c.keyBuf = append(c.keyBuf[:0], w.Key...)
		if w.Delete {
			if b != nil {
				if err := b.Delete(c.keyBuf); err != nil {
					return nil, fmt.Errorf("delete bucket %q key %q: %w", w.Bucket, store.QuoteKey(w.Key), err)
				}
			}
			continue
		}
		start := len(c.arena)
		c.arena = EncodeRecord(c.arena, w.Record)
		if err := b.Put(c.keyBuf, c.arena[start:len(c.arena):len(c.arena)]); err != nil {
			return nil, fmt.Errorf("put bucket %q key %q: %w", w.Bucket, store.QuoteKey(w.Key), err)
		}
	}
	return nil, nil
}

// check compares w's Expect with the record as this transaction sees it. It
// also rejects a key that holds a nested bucket, on which bbolt's Put would
// fail the whole transaction.
func (c *committer) check(tx *bolt.Tx, w *store.Write) error {
	b, _ := c.bucket(tx, w.Bucket, false)
	if b == nil {
		return store.CheckExpect(w, false, 0, 0)
	}
	c.keyBuf = append(c.keyBuf[:0], w.Key...)
	cur := c.cursors[b]
	if cur == nil {
		cur = b.Cursor()
		c.cursors[b] = cur
	}
	k, v := cur.Seek(c.keyBuf)
	if k == nil || !bytes.Equal(k, c.keyBuf) {
		return store.CheckExpect(w, false, 0, 0)
	}
	if v == nil {
		return &store.CorruptError{Bucket: w.Bucket, Key: w.Key, Reason: "key holds a nested bucket, not a record"}
	}
	if w.Force {
		return nil
	}
	rec, err := DecodeRecord(v)
	if err != nil {
		return store.Located(err, w.Bucket, w.Key)
	}
	return store.CheckExpect(w, true, rec.Version, rec.Stamp)
}

// bucket returns the transaction's handle of name, creating the bucket when
// create is set; without create, an absent bucket is (nil, nil).
func (c *committer) bucket(tx *bolt.Tx, name string, create bool) (*bolt.Bucket, error) {
	b, ok := c.buckets[name]
	if ok && (b != nil || !create) {
		return b, nil
	}
	c.nameBuf = append(c.nameBuf[:0], name...)
	if create {
		var err error
		if b, err = tx.CreateBucketIfNotExists(c.nameBuf); err != nil {
			return nil, fmt.Errorf("create bucket %q: %w", name, err)
		}
	} else {
		b = tx.Bucket(c.nameBuf)
	}
	c.buckets[name] = b
	return b, nil
}

// resetTx forgets everything tied to the finished transaction.
func (c *committer) resetTx() {
	clear(c.buckets)
	clear(c.cursors)
	if cap(c.arena) > maxRetainedArena {
		c.arena = nil
	} else {
		c.arena = c.arena[:0]
	}
}

// fail gives every request of the batch the same commit error.
func (c *committer) fail(cause error, writes int) {
	err := fmt.Errorf("%w: %w", store.ErrCommit, cause)
	for i := range c.errs {
		c.errs[i] = err
	}
	c.s.stats.failedCommits.Add(1)
	c.s.cfg.logger.Error("boltstore: commit failed",
		"path", c.s.path, "requests", len(c.batch), "writes", writes, "err", cause)
}

// complete reports every outcome, in batch order.
func (c *committer) complete() {
	// Counted first, so that a caller whose callback ran sees it in Stats.
	c.s.stats.requests.Add(uint64(len(c.batch)))
	for i := range c.batch {
		req := &c.batch[i]
		switch {
		case req.wait != nil:
			req.wait <- c.errs[i]
		case req.done != nil:
			c.callDone(req.done, c.errs[i])
		}
	}
	clear(c.errs)
}

// callDone runs one callback, containing its panic so that one faulty caller
// cannot stop the committer and strand every other caller.
func (c *committer) callDone(done func(error), err error) {
	defer func() {
		if p := recover(); p != nil {
			c.s.stats.callbackPanics.Add(1)
			c.s.cfg.logger.Error("boltstore: done callback panicked",
				"path", c.s.path, "panic", p, "outcome", err)
		}
	}()
	done(err)
}
