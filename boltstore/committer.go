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

// maxOutstanding bounds the batches handed to the completer and not yet
// back. The committer takes no request while any is out, so at most the
// batch being synced then and the one built before it follow: two. The
// completer's channels hold this many, so neither side ever waits for the
// other to send.
const maxOutstanding = 4

// committer is the state of the Store's committer goroutine, which takes
// requests off the queue in order, judges them and groups them into
// batches. With the write-ahead log it judges each request as it takes it,
// into the frame it is building, while the syncer goroutine writes and syncs
// the previous frame; the frame goes to the syncer once that sync
// succeeded. Without the log it commits each batch in a transaction of the
// file itself, and a checkpointer goroutine folds the log into the file
// beside it (see logSink.turn). Either way a completer goroutine reports the
// outcomes, so that no caller's callback runs on the committer or the
// syncer. The committer starts and stops them all; every field is owned by
// the committer goroutine.
//
// Both commit paths share one implementation of the rules (judge, current,
// fail): only where accepted writes go and how they are made durable
// differs.
type committer struct {
	s *Store
	// log is the frame builder when the Store has a write-ahead log, tx
	// the transaction sink when it has not; exactly one is set.
	log *logSink
	tx  *txSink
	// building takes the requests off the queue. syncing is the batch the
	// syncer holds (log only), nil while it is idle.
	building, syncing *batch
	syncer            *syncer
	completer         *completer
	// outstanding counts the batches handed to the completer and not yet
	// back: while one is out, a callback may be running, and the committer
	// takes no request off the queue (see run).
	outstanding int
	free        []*batch
}

func newCommitter(s *Store) *committer {
	c := &committer{s: s, completer: newCompleter(s)}
	if s.wal != nil {
		c.log = newLogSink(s)
		c.syncer = newSyncer(s.wal)
	} else {
		c.tx = newTxSink(s)
	}
	return c
}

// run commits and reports requests until Close closes the queue and
// everything queued was reported, then folds the log into the file and
// stops the syncer, the checkpointer and the completer.
//
// It waits for the first request of a batch, then takes whatever else is
// already queued without waiting, so a lone caller never waits for
// company; with the log, while the syncer syncs one frame the committer
// goes on taking requests into the next, which the syncer gets as soon as
// it is done. While a batch's outcomes are being reported the committer
// takes no request off the queue: a slow callback then holds the Store as
// it always did (the queue fills and Submit blocks), yet the next commit
// is already being synced, and a quick one costs nothing.
func (c *committer) run() {
	defer close(c.s.stopped)
	go c.completer.run()
	if c.log != nil {
		go c.syncer.run()
		go c.log.folder.run()
	}
	queue := c.s.queue
	for {
		c.advance()
		if queue == nil && c.building == nil && c.syncing == nil && c.outstanding == 0 {
			break
		}
		var take <-chan request
		if queue != nil && c.outstanding == 0 && c.canTake() {
			take = queue
		}
		var synced <-chan *batch
		if c.syncing != nil {
			synced = c.syncer.out
		}
		var completed <-chan *batch
		if c.outstanding > 0 {
			completed = c.completer.out
		}
		var folded <-chan *fold
		if c.log != nil && c.log.folding != nil {
			folded = c.log.folder.out
		}
		select {
		case req, ok := <-take:
			if ok {
				c.take(req)
				ok = c.drain(queue)
			}
			if !ok {
				queue = nil
			}
		case b := <-synced:
			c.synced(b)
		case b := <-completed:
			c.outstanding--
			b.reset()
			c.free = append(c.free, b)
		case f := <-folded:
			_ = c.log.folded(f) // counted and logged; tried again later
		}
	}
	if c.log != nil {
		// Fold the log in before the file closes, so the file alone
		// holds every commit.
		c.s.finalCheckpoint = c.log.checkpoint(true)
		c.syncer.stop()
		c.log.folder.stop()
	}
	c.completer.stop()
}

// canTake says whether the batch being built takes another request.
func (c *committer) canTake() bool {
	b := c.building
	return b == nil || !b.closed && !b.full(c.s.cfg.maxBatch)
}

// drain takes the requests already queued, without waiting, while the batch
// takes them. It returns false once the queue is closed.
func (c *committer) drain(queue chan request) bool {
	for c.canTake() {
		select {
		case req, ok := <-queue:
			if !ok {
				return false
			}
			c.take(req)
		default:
			return true
		}
	}
	return true
}

// take adds req to the batch being built; with the log it judges req now,
// and adds its writes to the frame if it passes.
func (c *committer) take(req request) {
	b := c.building
	if b == nil {
		if n := len(c.free); n > 0 {
			b, c.free = c.free[n-1], c.free[:n-1]
		} else {
			b = newBatch()
		}
		c.building = b
		if c.log != nil {
			c.log.begin(b)
		}
	}
	b.reqs = append(b.reqs, req)
	b.errs = append(b.errs, nil)
	b.size += req.size
	b.writes += len(req.writes)
	if req.checkpoint {
		// The checkpoint follows this batch: later requests wait for
		// the next one.
		b.checkpoint, b.closed = true, true
	}
	if c.log != nil && len(req.writes) > 0 {
		b.errs[len(b.errs)-1] = c.logRequest(b, &req)
	}
}

// logRequest judges one request against everything accepted before it and
// adds its writes to b's frame if it passes; it returns the request's
// outcome as far as it is known now. A failure to read the file fails the
// request alone: nothing of it is in the frame.
func (c *committer) logRequest(b *batch, req *request) error {
	writes := req.writes
	var reqErr error
	err := guard(c.s.path, func() error {
		var err error
		reqErr, err = c.judge(req)
		return err
	})
	if err != nil {
		// The read transaction may be broken by a damaged page; the next
		// lookup begins another.
		c.log.endRead()
		c.s.stats.failedCommits.Add(1)
		c.s.cfg.logger.Error("boltstore: commit failed",
			"path", c.s.path, "requests", 1, "writes", len(writes), "err", err)
		return fmt.Errorf("%w: %w", store.ErrCommit, err)
	}
	if reqErr != nil {
		if errors.Is(reqErr, store.ErrConflict) {
			b.conflicts++
		} else {
			b.corrupt++
		}
		return reqErr
	}
	for i := range writes {
		c.log.add(b, &writes[i])
	}
	b.applied += len(writes)
	return nil
}

// advance moves the batch being built on while nothing is being synced:
// without the log it commits it; with the log it hands its frame to the
// syncer, or reports it at once when it has nothing to write (every
// request rejected, a barrier, a failure).
func (c *committer) advance() {
	for c.syncing == nil && c.building != nil {
		b := c.building
		c.building = nil
		switch {
		case c.tx != nil:
			c.s.stats.recordBatch(len(b.reqs), b.writes)
			c.commitTx(b)
			c.settle(b)
		case b.writesFrame():
			c.handOff(b)
		default:
			c.log.endRead() // the batch is done with the file
			c.s.stats.recordBatch(len(b.reqs), b.writes)
			if !b.failed {
				c.s.stats.recordRejections(b.conflicts, b.corrupt)
			}
			c.settle(b)
		}
	}
}

// handOff seals b's frame and hands it to the syncer, which is idle.
func (c *committer) handOff(b *batch) {
	c.s.stats.recordBatch(len(b.reqs), b.writes)
	c.log.seal(b)
	c.syncing = b
	c.syncer.in <- b
}

// synced takes b back from the syncer. A frame made durable goes into the
// overlay, where readers and later requests see it, before any of its
// outcomes is reported. A frame that failed fails its batch, and also the
// batch being built: its requests were judged against the failed one's
// writes, and nothing of them was written.
func (c *committer) synced(b *batch) {
	c.syncing = nil
	st := &c.s.stats
	if b.syncErr != nil {
		c.fail(b, b.syncErr)
		if next := c.building; next != nil {
			c.fail(next, fmt.Errorf("judged against a commit that failed: %w", b.syncErr))
			next.closed = true
		}
	} else {
		c.log.synced(b)
		// The next frame goes to the syncer first, unless a checkpoint is
		// to follow b; a batch without a frame waits, as it must be
		// reported after b. No request is judged until b's writes are in
		// the overlay.
		if next := c.building; next != nil && next.writesFrame() && !b.checkpoint && !c.log.due() {
			c.building = nil
			c.handOff(next)
		}
		c.s.overlay.set(b.accepted, b.sealed)
		st.recordCommit(b.applied, b.syncTime)
		st.recordRejections(b.conflicts, b.corrupt)
	}
	c.settle(b)
}

// settle hands b to the completer. With the log, a checkpoint a request of
// b asked for runs first, and those requests get its outcome; or, when the
// log reached its size, a checkpoint starts beside the committer. The
// syncer holds the log only if synced found neither due.
func (c *committer) settle(b *batch) {
	switch {
	case c.log == nil || c.syncing != nil:
	case b.checkpoint:
		err := c.log.checkpoint(false)
		for i := range b.reqs {
			if b.reqs[i].checkpoint {
				b.errs[i] = err
			}
		}
	case c.log.due():
		c.log.startCheckpoint()
	}
	c.outstanding++
	c.completer.in <- b
}

// commitTx commits b as one transaction of the file, under guard: a damaged
// page of the file that makes bbolt panic, or fault, while the batch is
// judged or committed fails the batch (store.ErrCommit wrapping
// store.ErrCorrupt) instead of the committer, which goes on with the next
// batch. The transaction is rolled back by then.
func (c *committer) commitTx(b *batch) {
	if b.writes == 0 {
		return
	}
	err := guard(c.s.path, func() error {
		c.commitTxWrites(b)
		return nil
	})
	if err != nil {
		c.fail(b, err)
	}
}

// commitTxWrites judges b's requests in order in the file's write
// transaction, which holds the writes of the requests accepted before,
// writes those of each accepted request, commits and fills b.errs. A
// rejected request changes nothing and fails alone; a failure of the
// transaction fails every request of the batch.
func (c *committer) commitTxWrites(b *batch) {
	st := &c.s.stats
	t := c.tx
	defer t.end()
	for i := range b.reqs {
		req := b.reqs[i].writes
		if len(req) == 0 {
			continue
		}
		reqErr, err := c.judge(&b.reqs[i])
		if err != nil {
			c.fail(b, err)
			return
		}
		if reqErr != nil {
			b.errs[i] = reqErr
			if errors.Is(reqErr, store.ErrConflict) {
				b.conflicts++
			} else {
				b.corrupt++
			}
			continue
		}
		for j := range req {
			if err := t.add(&req[j]); err != nil {
				c.fail(b, err)
				return
			}
		}
		b.applied += len(req)
	}
	// Rejections count only once the commit they were judged for
	// succeeded; otherwise every request gets store.ErrCommit instead.
	if b.applied == 0 {
		st.recordRejections(b.conflicts, b.corrupt)
		return // every request was rejected: nothing to write or sync
	}
	start := time.Now()
	if err := t.commit(); err != nil {
		c.fail(b, err)
		return
	}
	st.recordCommit(b.applied, time.Since(start))
	st.recordRejections(b.conflicts, b.corrupt)
}

// judge checks every write of one request against the newest record; a
// failed check rejects the whole request (reqErr). err reports a failure to
// read the file at all.
func (c *committer) judge(req *request) (reqErr, err error) {
	for i := range req.writes {
		w := &req.writes[i]
		e, reqErr, err := c.current(w, req.priors.at(i), req.priors.epoch)
		if reqErr != nil || err != nil {
			return reqErr, err
		}
		if err := store.CheckExpect(w, e.present, e.version, e.stamp); err != nil {
			return err, nil
		}
	}
	return nil, nil
}

// current returns the record w replaces (present false: absent). With the
// log: from the batch being built, else the frame being synced, else the
// log's records, else the file as p, read by the submitter (see
// readPriors), says when no checkpoint dropped records from the overlay
// since epoch, else the database file; without it, from the file's write
// transaction, which holds the batch's earlier writes.
func (c *committer) current(w *store.Write, p *prior, epoch uint64) (e overlayEntry, reqErr, err error) {
	var v *txView
	if c.log != nil {
		k := bucketKey{w.Bucket, w.Key}
		if e, ok := c.building.pending[k]; ok {
			return e, nil, nil
		}
		if c.syncing != nil {
			if e, ok := c.syncing.pending[k]; ok {
				return e, nil, nil
			}
		}
		if e, ok := c.s.overlay.lookup(w.Bucket, w.Key); ok {
			return e, nil, nil
		}
		if p != nil && p.read && epoch == c.s.overlay.epoch.Load() {
			return p.e, p.reqErr, nil
		}
		v, err = c.log.file()
	} else {
		v, err = c.tx.file()
	}
	c.s.stats.committerLookups.Add(1)
	if err != nil {
		return overlayEntry{}, nil, err
	}
	return fileEntry(v, w)
}

// fail gives every request of b the same commit error.
func (c *committer) fail(b *batch, cause error) {
	err := fmt.Errorf("%w: %w", store.ErrCommit, cause)
	for i := range b.errs {
		b.errs[i] = err
	}
	b.failed = true
	c.s.stats.failedCommits.Add(1)
	c.s.cfg.logger.Error("boltstore: commit failed",
		"path", c.s.path, "requests", len(b.reqs), "writes", b.writes, "err", cause)
}
