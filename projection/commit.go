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
}

// commitPart is what one key's write changes in memory once committed.
type commitPart[S, D any] struct {
	e       *entry[S, D]
	gen     uint64    // e's generation the fold built on
	rec     record[S] // the new committed snapshot (present false: deleted)
	folded  uint64    // events folded into rec
	updates []Update[S, D]
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
	for i := range c.parts {
		clear(c.parts[i].updates)
		c.parts[i] = commitPart[S, D]{updates: c.parts[i].updates[:0]}
	}
	clear(c.writes)
	c.parts, c.writes = c.parts[:0], c.writes[:0]
}

// addPart appends a part for e and returns it.
func (c *commitReq[E, S, D]) addPart(e *entry[S, D], gen uint64) *commitPart[S, D] {
	if len(c.parts) < cap(c.parts) {
		c.parts = c.parts[:len(c.parts)+1]
	} else {
		c.parts = append(c.parts, commitPart[S, D]{})
	}
	p := &c.parts[len(c.parts)-1]
	p.e, p.gen = e, gen
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

// onDone runs on the store's committer goroutine, in commit order, once the
// outcome of c is known. On success it makes each part's state the committed
// one and publishes its updates, under the shard lock so that a resync reads
// either the state before the updates or after. On failure it returns the
// pending lineage to the committed state, unless an earlier failure already
// did; applies folded on top of the failed one carry an Expect the store will
// refuse, so they fail too.
func (c *commitReq[E, S, D]) onDone(err error) {
	// The waiting caller is released whatever happens below: the outcome is
	// the commit's.
	defer func() { c.result <- err }()
	for i := range c.parts {
		c.r.settle(&c.parts[i], err)
	}
}

// settle applies one part's commit outcome to its entry; see onDone.
func (r *Runtime[E, S, D]) settle(p *commitPart[S, D], err error) {
	e := p.e
	e.sh.mu.Lock()
	defer e.sh.mu.Unlock()
	e.inflight--
	if err != nil {
		if e.gen == p.gen {
			e.pending = e.committed
			e.gen++
		}
		return
	}
	e.committed = p.rec
	// One interest check per key: a subscriber that arrives after it reads
	// its initial state under this shard lock, after these updates.
	listened := r.bus != nil && pubsub.HasSubscribers(r.bus, e.channel)
	for _, u := range p.updates {
		u.seq = r.seq.Add(1)
		if u.Kind == KindRebuild || u.Kind == KindDeleted {
			e.rebuilt = true
		}
		e.addHistoryLocked(u, r.cfg.history)
		if listened {
			r.publish(e.channel, u)
		}
	}
}

// publish sends u on channel. It never blocks unless a raw bus subscriber on
// the channel chose the Block policy. A failure does not undo the commit; it
// is logged, and subscribers can tell from the versions what they missed.
func (r *Runtime[E, S, D]) publish(channel string, u Update[S, D]) {
	defer func() {
		// A raw bus subscriber's OnDrop callback runs inside Publish; its
		// panic must not escape into the commit path, which holds a lock.
		if v := recover(); v != nil {
			r.cfg.logger.Error("projection: publishing an update panicked; snapshot persisted",
				"projection", r.name, "key", u.Key, "version", u.Version, "panic", v)
		}
	}()
	_, err := pubsub.Publish(context.Background(), r.bus, channel, u)
	switch {
	case err == nil:
		r.stats.published.Add(1)
	case errors.Is(err, pubsub.ErrClosed):
		// The bus is shut down: nobody is listening any more.
	default:
		r.cfg.logger.Warn("projection: publishing an update failed; snapshot persisted",
			"projection", r.name, "key", u.Key, "version", u.Version, "err", err)
	}
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
