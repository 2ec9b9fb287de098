package boltstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/livefold/livefold/store"
)

// maxBatchBytes bounds a batch by the bytes of its records as well as by its
// number of requests: the committer stops taking requests once a batch holds
// this much, so with store.MaxRequestBytes per request a log frame stays far
// below the 4 GiB its length field can describe.
const maxBatchBytes = 64 << 20

// committer is the state of the Store's single committer goroutine. Every
// field is owned by that goroutine; nothing else touches it.
//
// Both commit paths share one implementation of the rules (commitWrites,
// judge, current): only where accepted writes go and how they are made
// durable differs, and that is the sink's.
type committer struct {
	s *Store
	// batch and errs are reused for every batch: errs[i] is the outcome of
	// batch[i].
	batch []request
	errs  []error
	// pending holds the newest version of every key the batch has accepted
	// so far, so later requests of the batch are judged against them. It
	// stays empty without a log: the lookups then read the write transaction,
	// which holds the batch's writes already, and the map would only cost.
	pending map[bucketKey]overlayEntry
	// sink takes the accepted writes; log is the same sink when the Store
	// has a write-ahead log, else nil.
	sink sink
	log  *logSink
}

func newCommitter(s *Store) *committer {
	c := &committer{
		s:       s,
		batch:   make([]request, 0, min(s.cfg.maxBatch, 256)),
		pending: make(map[bucketKey]overlayEntry),
	}
	if s.wal != nil {
		c.log = newLogSink(s)
		c.sink = c.log
	} else {
		c.sink = newTxSink(s)
	}
	return c
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
			if c.log != nil {
				// Fold the log in before the file closes, so the file
				// alone holds every commit.
				c.s.finalCheckpoint = c.log.checkpoint()
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
		writes, checkpoint := c.prepareErrs()
		if writes > 0 {
			c.commitGuarded(writes, size)
		}
		if c.log != nil {
			c.log.afterBatch(c.batch, c.errs, checkpoint)
		}
		c.complete()
		clear(c.batch) // drop references to callers' writes and callbacks
		c.batch = c.batch[:0]
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

// commitGuarded is commitWrites under guard: a damaged page of the file
// that makes bbolt panic, or fault, while the batch is judged or committed
// fails the batch (store.ErrCommit wrapping store.ErrCorrupt) instead of the
// committer, which goes on with the next batch. The sink's end, deferred in
// commitWrites, has rolled the transaction back by then.
func (c *committer) commitGuarded(writes, size int) {
	err := guard(c.s.path, func() error {
		c.commitWrites(writes, size)
		return nil
	})
	if err != nil {
		c.fail(err, writes)
	}
}

// commitWrites judges the batch's requests in order, hands the writes of
// each accepted request to the sink, makes them durable in one commit and
// fills c.errs. A rejected request changes nothing and fails alone; a failure
// of the sink fails every request of the batch. size is the batch's size as
// validate measured it.
func (c *committer) commitWrites(writes, size int) {
	st := &c.s.stats
	clear(c.pending)
	c.sink.begin(size)
	defer c.sink.end()
	applied, conflicts, corrupt := 0, 0, 0
	for i := range c.batch {
		req := c.batch[i].writes
		if len(req) == 0 {
			continue
		}
		reqErr, err := c.judge(req)
		if err != nil {
			c.fail(err, writes)
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
			if err := c.sink.add(w); err != nil {
				c.fail(err, writes)
				return
			}
			if c.log != nil {
				e := overlayEntry{present: !w.Delete}
				if e.present {
					e.version, e.stamp = w.Record.Version, w.Record.Stamp
				}
				c.pending[bucketKey{w.Bucket, w.Key}] = e
			}
		}
		applied += len(req)
	}
	// Rejections count only once the commit they were judged for
	// succeeded; otherwise every request gets store.ErrCommit instead.
	if applied == 0 {
		st.recordRejections(conflicts, corrupt)
		return // every request was rejected: nothing to write or sync
	}
	start := time.Now()
	if err := c.sink.commit(); err != nil {
		c.fail(err, writes)
		return
	}
	st.recordCommit(applied, time.Since(start))
	st.recordRejections(conflicts, corrupt)
}

// judge checks every write of one request against the newest record; a
// failed check rejects the whole request (reqErr). err reports a failure to
// read the file at all, which fails the batch.
func (c *committer) judge(req []store.Write) (reqErr, err error) {
	for i := range req {
		w := &req[i]
		e, reqErr, err := c.current(w)
		if reqErr != nil || err != nil {
			return reqErr, err
		}
		if err := store.CheckExpect(w, e.present, e.version, e.stamp); err != nil {
			return err, nil
		}
	}
	return nil, nil
}

// current returns the record w replaces (present false: absent): from the
// batch being built, else the log, else the database file. A key of the file
// that holds a nested bucket is a damaged record, also for Force: bbolt's
// Put would fail the whole transaction on it. With w.Force current does not
// decode a record of the file, which may be damaged.
func (c *committer) current(w *store.Write) (e overlayEntry, reqErr, err error) {
	if e, ok := c.pending[bucketKey{w.Bucket, w.Key}]; ok {
		return e, nil, nil
	}
	if c.log != nil {
		if e, ok := c.s.overlay.lookup(w.Bucket, w.Key); ok {
			return e, nil, nil
		}
	}
	v, err := c.sink.file()
	if err != nil {
		return overlayEntry{}, nil, err
	}
	val, found, err := v.get(w.Bucket, w.Key)
	if err != nil || !found {
		return overlayEntry{}, nil, err
	}
	if val == nil {
		return overlayEntry{}, &store.CorruptError{Bucket: w.Bucket, Key: w.Key, Reason: "key holds a nested bucket, not a record"}, nil
	}
	if w.Force {
		return overlayEntry{present: true}, nil, nil
	}
	rec, err := DecodeRecord(val)
	if err != nil {
		return overlayEntry{}, store.Located(err, w.Bucket, w.Key), nil
	}
	return overlayEntry{present: true, version: rec.Version, stamp: rec.Stamp}, nil, nil
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
