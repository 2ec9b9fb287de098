package projection

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/pubsub"
)

// commitReq is one submission to the store: the writes of an Apply, an
// ApplyBatch or a Rebuild, with what to do once their commit succeeded or
// failed. Requests are pooled so that Apply's hot path allocates little.
type commitReq[E, S, D any] struct {
	r      *Runtime[E, S, D]
	parts  []commitPart[S, D]
	writes []store.Write
	result chan error  // receives the outcome once, from the store's committer
	done   func(error) // r.onDone bound once, so submitting allocates no closure
	// events holds, per part, the events folded into it, for a RebuildAll
	// running meanwhile; one holds an Apply's event, so that keeping it
	// allocates nothing.
	events [][]E
	one    [1]E
}

// commitPart is what one key's write changes in memory once committed.
type commitPart[S, D any] struct {
	e   *entry[S, D]
	gen uint64 // e's generation the fold built on
	// expect and expectStamp name the record the fold built on (0, 0:
	// none), which the store must still hold.
	expect, expectStamp uint64
	rec                 record[S] // the new committed snapshot (present false: deleted)
	folded              uint64    // events folded into rec
	updates             []Update[S, D]
	// stateless says updates carry no State: nobody had subscribed when
	// they were folded.
	stateless bool
	// reset says the part is a Rebuild of its key.
	reset bool
}

type reqPool[S, D any] struct{ p sync.Pool }

func (r *Runtime[E, S, D]) getReq() *commitReq[E, S, D] {
	if v := r.reqs.p.Get(); v != nil {
		return v.(*commitReq[E, S, D])
	}
	c := &commitReq[E, S, D]{r: r, result: make(chan error, 1)}
	c.done = c.onDone
	return c
}

func (r *Runtime[E, S, D]) putReq(c *commitReq[E, S, D]) {
	r.resetReq(c)
	r.reqs.p.Put(c)
}

// resetReq empties c, keeping its capacity.
func (r *Runtime[E, S, D]) resetReq(c *commitReq[E, S, D]) {
	// Up to cap: a part given back by a fold of duplicates still holds its
	// state.
	all := c.parts[:cap(c.parts)]
	for i := range all {
		clear(all[i].updates)
		all[i] = commitPart[S, D]{updates: all[i].updates[:0]}
	}
	clear(c.writes)
	clear(c.events)
	c.one = [1]E{}
	c.parts, c.writes, c.events = c.parts[:0], c.writes[:0], c.events[:0]
}

// addPart appends a part for e, folded on base in generation gen, and
// returns it.
func (c *commitReq[E, S, D]) addPart(e *entry[S, D], gen uint64, base record[S]) *commitPart[S, D] {
	if len(c.parts) < cap(c.parts) {
		c.parts = c.parts[:len(c.parts)+1]
	} else {
		c.parts = append(c.parts, commitPart[S, D]{})
	}
	p := &c.parts[len(c.parts)-1]
	// A slot given back by a fold of duplicates still holds what it had.
	clear(p.updates)
	*p = commitPart[S, D]{e: e, gen: gen, updates: p.updates[:0]}
	if base.present {
		p.expect, p.expectStamp = base.version, base.stamp
	}
	return p
}

// submit hands the writes to the store and, once they are queued, marks
// every part's entry as in flight and makes the part's state the pending
// state the key's next fold builds on. On error nothing is queued and nothing
// changed. The caller keeps every entry pinned until submit returned, so an
// outcome reported before submit counted it in flight (inflight is then -1
// for a moment) cannot get the entry evicted.
func (r *Runtime[E, S, D]) submit(ctx context.Context, c *commitReq[E, S, D]) error {
	if err := r.store.Submit(ctx, c.writes, c.done); err != nil {
		return err
	}
	for i := range c.parts {
		p := &c.parts[i]
		p.e.sh.mu.Lock()
		p.e.inflight++
		if p.e.gen == p.gen {
			p.e.pending = p.rec
		}
		p.e.sh.mu.Unlock()
	}
	return nil
}

// onDone runs on the store's goroutine, in commit order, once the outcome
// of c is known. It only updates the cache and queues updates for the
// publisher: no subscriber code runs here, and nothing here waits.
func (c *commitReq[E, S, D]) onDone(err error) {
	// The waiting caller is released whatever happens below: the outcome is
	// the commit's.
	defer func() { c.result <- err }()
	for i := range c.parts {
		c.r.settle(&c.parts[i], err)
	}
	if err == nil && c.r.capture.active.Load() {
		c.r.captureReq(c)
	}
}

// captureReq hands what c committed to a RebuildAll running meanwhile. The
// events of all its parts share one new slice: the request's own are reused
// once its caller returns.
func (r *Runtime[E, S, D]) captureReq(c *commitReq[E, S, D]) {
	items := make([]captured[E], len(c.parts))
	n := 0
	for i := range c.parts {
		if !c.parts[i].reset {
			n += len(c.events[i])
		}
	}
	events := make([]E, 0, n)
	for i := range c.parts {
		p := &c.parts[i]
		items[i].key = p.e.key
		if p.reset {
			items[i].reset = &rebuilt{present: p.rec.present, bytes: p.rec.bytes, version: p.rec.version, position: p.rec.position}
			continue
		}
		start := len(events)
		events = append(events, c.events[i]...)
		items[i].events = events[start:len(events):len(events)]
	}
	r.capture.add(items)
}

// settle applies one part's commit outcome to its entry. On success the
// part's state becomes the committed one and its updates are numbered, kept
// in the history and queued for subscribers, all under the shard lock, so
// that a resync reads either the state before the updates or after them. On
// failure the pending lineage returns to the committed state, unless an
// earlier failure already did (applies folded on top of the failed one carry
// an Expect the store refuses, so they fail too); a conflict also marks the
// entry stale, since the store holds a record this runtime did not write.
func (r *Runtime[E, S, D]) settle(p *commitPart[S, D], err error) {
	e := p.e
	sh := e.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e.inflight--
	defer r.releaseLocked(e)
	if err != nil {
		// Only the first failure of a lineage resets it; the applies folded
		// on top of it fail as expected and change nothing more.
		if e.gen == p.gen {
			e.pending = e.committed
			e.gen++
			if conflictOn(err, e.key) {
				e.stale = true
				sh.evictIfIdleLocked(e)
			}
		}
		return
	}
	e.committed = p.rec
	listened := r.listened(e.channel)
	if p.stateless && !r.fillStates(p, listened) {
		// Nothing to replay these versions from, and a subscriber that
		// arrived meanwhile resyncs.
		e.clearHistoryLocked()
		if listened {
			r.pub.push(e.channel, envelope[S, D]{origin: r.id, kind: envStale, u: Update[S, D]{Key: e.key}})
		}
		return
	}
	for _, u := range p.updates {
		e.addHistoryLocked(u, r.cfg.history)
		if listened {
			r.pub.push(e.channel, envelope[S, D]{origin: r.id, u: u})
		}
	}
}

// fillStates gives the updates of p, folded before anyone subscribed, their
// states when a subscriber arrived before the commit, so that it gets the
// deltas that follow its initial state. Only the state after the last event
// is at hand, so that works for a part of one event; it reports whether it
// did.
func (r *Runtime[E, S, D]) fillStates(p *commitPart[S, D], listened bool) bool {
	if !listened || len(p.updates) != 1 {
		return false
	}
	st, err := r.codec.clone(&p.rec.state, p.rec.bytes)
	if err != nil {
		return false
	}
	p.updates[0].State = st
	return true
}

// listened reports whether anyone subscribes to channel now.
func (r *Runtime[E, S, D]) listened(channel string) bool {
	return r.pub != nil && pubsub.HasSubscribers(r.bus, channel)
}

// conflictOn reports whether err is a version conflict on key, or one whose
// key is unknown.
func conflictOn(err error, key string) bool {
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return ce.Key == key
	}
	return errors.Is(err, store.ErrConflict)
}

// publishFailed logs a delivery the bus refused. The commit stands;
// subscribers can tell from the versions what they missed.
func (r *Runtime[E, S, D]) publishFailed(u Update[S, D], err error) {
	r.cfg.logger.Warn("projection: publishing an update failed; snapshot persisted",
		"projection", r.name, "key", u.Key, "version", u.Version, "err", err)
}

// failed counts a call that returned err and logs what a caller alone
// might not act on.
func (r *Runtime[E, S, D]) failed(err error) {
	r.stats.failures.Add(1)
	switch {
	case errors.Is(err, ErrCorrupt):
		r.cfg.logger.Error("projection: damaged snapshot", "projection", r.name, "err", err)
	case errors.Is(err, ErrApplyPanic):
		r.cfg.logger.Error("projection: projection code panicked", "projection", r.name, "err", err)
	case errors.Is(err, store.ErrCommit):
		r.cfg.logger.Warn("projection: commit failed", "projection", r.name, "err", err)
	}
}

// now returns the commit timestamp for a write, in UTC.
func (r *Runtime[E, S, D]) now() time.Time { return r.cfg.now().UTC() }
