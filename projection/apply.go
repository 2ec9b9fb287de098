package projection

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/livefold/livefold/store"
)

// Apply folds event into the snapshot of its key and returns the key's new
// version once the new snapshot is durable, after which a KindDelta update is
// published.
//
// Applies on one key fold one at a time in the order they take the key's
// lock, each on the state the previous one left, committed or not; applies on
// different keys run in parallel, and all share group commits. If the commit
// of this event fails, Apply fails and the key is as it was before. If the
// commit finds that the key changed under it (another writer of the store,
// or an apply it was folded on failed), the runtime reloads the key and
// folds the event again on the state the store holds, up to a bounded number
// of times.
//
// ctx bounds the wait for the key's lock and for room in the store's queue.
// Once the event is queued Apply waits for the commit's outcome even if ctx
// ends, because the event may already be durable.
//
// An event implementing [Positioned] whose position was already folded
// returns the key's version and ErrDuplicate, changing nothing.
//
// Errors, with nothing changed: ErrInvalidKey, ErrApplyPanic (Key or Apply
// panicked), ErrEncode, ErrCorrupt (the stored snapshot cannot be read),
// ErrDuplicate, ErrGap, ErrClosed, ctx errors, commit failures from the store
// (store.ErrCommit), and ErrAborted when the key kept changing under every
// attempt.
func (r *Runtime[E, S, D]) Apply(ctx context.Context, event E) (uint64, error) {
	if err := r.enterWriter(ctx); err != nil {
		return 0, err
	}
	defer r.exitWriter()
	v, err := r.apply(ctx, event)
	switch {
	case err == nil:
		r.stats.applies.Add(1)
	case errors.Is(err, ErrDuplicate):
		r.stats.duplicates.Add(1)
	default:
		r.failed(err)
	}
	return v, err
}

func (r *Runtime[E, S, D]) apply(ctx context.Context, event E) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("projection %q: %w", r.name, err)
	}
	key, err := r.keyOf(event)
	if err != nil {
		return 0, err
	}
	for attempt := 1; ; {
		c, version, err := r.lockFoldSubmit(ctx, key, event)
		switch {
		case errors.Is(err, errInFlight):
			// c is a barrier behind the commits in flight: once it is
			// done, their outcomes are known.
			<-c.result
			r.putReq(c)
			continue
		case err != nil:
			return 0, err
		case c == nil:
			pos, _ := r.positionOf(event) // it did not panic a moment ago
			return version, fmt.Errorf("%w: projection %q, key %q, position %d is at or below the stored one",
				ErrDuplicate, r.name, key, pos)
		}
		err = <-c.result
		version = c.parts[0].rec.version
		r.putReq(c)
		if r.retry(err, &attempt) {
			continue
		}
		if err != nil {
			return 0, r.storeErr(key, err)
		}
		return version, nil
	}
}

// maxAttempts bounds how often an apply is folded again after its commit
// met a version it did not expect; then it fails with ErrAborted.
const maxAttempts = 16

// retry reports whether an apply whose commit ended with err is to be folded
// again: on a version conflict (another writer changed the key, or an apply
// this one was folded on failed), as long as attempts remain. The next fold
// reloads the key from the store.
func (r *Runtime[E, S, D]) retry(err error, attempt *int) bool {
	if !errors.Is(err, store.ErrConflict) || *attempt >= maxAttempts {
		return false
	}
	*attempt++
	r.stats.retries.Add(1)
	return true
}

// lockFoldSubmit takes key's lock, folds event on key's pending state,
// queues the result and releases the lock, also if the fold panics; see
// foldAndSubmit for what it returns.
func (r *Runtime[E, S, D]) lockFoldSubmit(ctx context.Context, key string, event E) (*commitReq[E, S, D], uint64, error) {
	unlock, err := r.locks.LockContext(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("projection %q, key %q: %w", r.name, key, err)
	}
	defer unlock()
	return r.foldAndSubmit(ctx, key, event)
}

// foldAndSubmit folds event, of key, on key's pending state and queues the
// result. The caller holds key's lock. It returns a nil request and the
// committed version when the event was a duplicate, and a queued barrier with
// errInFlight when whether it folds depends on commits in flight (it may be
// the duplicate of an event in flight, or the store moved under its gap; see
// confirmGap).
func (r *Runtime[E, S, D]) foldAndSubmit(ctx context.Context, key string, event E) (*commitReq[E, S, D], uint64, error) {
	e, lin, err := r.pin(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	defer r.unpin(e)
	c := r.getReq()
	// The request keeps the event for a RebuildAll running meanwhile (see
	// captureReq); c.one holds it without allocating.
	c.one[0] = event
	events := c.one[:]
	p, committed, err := r.foldPart(c, e, lin, events)
	if errors.Is(err, ErrGap) {
		err = r.confirmGap(ctx, e, lin, err)
	}
	switch {
	case errors.Is(err, errInFlight):
		return r.barrier(ctx, c, key, err)
	case err != nil:
		r.putReq(c)
		return nil, 0, err
	case p == nil:
		r.putReq(c)
		return nil, committed, nil
	}
	c.writes = append(c.writes, r.write(key, p))
	c.events = append(c.events, events)
	if err := r.submit(ctx, c); err != nil {
		r.putReq(c)
		return nil, 0, r.storeErr(key, err)
	}
	return c, 0, nil
}

// barrier turns c into an empty request and queues it, so that waiting for
// it waits for every commit queued before. It returns c with reason.
func (r *Runtime[E, S, D]) barrier(ctx context.Context, c *commitReq[E, S, D], key string, reason error) (*commitReq[E, S, D], uint64, error) {
	r.resetReq(c)
	if err := r.store.Submit(ctx, nil, c.done); err != nil {
		r.putReq(c)
		return nil, 0, r.storeErr(key, err)
	}
	return c, 0, reason
}

// foldPart folds events on a private copy of the pending state in lin, which
// pin read from e, and adds the result to c as a part. It returns the part,
// or a nil part and the committed version when every event was a duplicate.
// The caller holds e's key lock and a pin on e.
//
// The states of updates for subscribers, each a copy, are made only once the
// runtime has had a subscriber: until then an apply costs one encode of the
// state (see settle for a subscriber that arrives meanwhile).
func (r *Runtime[E, S, D]) foldPart(c *commitReq[E, S, D], e *entry[S, D], lin lineage[S], events []E) (*commitPart[S, D], uint64, error) {
	base, gen, committedPos, committedVer := &lin.base, lin.gen, lin.committedPos, lin.committedVer
	p := c.addPart(e, gen, *base)
	// The fold works on p's own copy: p lives in the pooled request, so the
	// state the projection's Apply gets a pointer to costs no allocation.
	work := &p.rec.state
	var err error
	if *work, err = r.codec.clone(&base.state, base.bytes); err != nil {
		c.parts = c.parts[:len(c.parts)-1]
		return nil, 0, r.corrupt(e.key, err)
	}
	build := r.watched.Load()
	version, position := base.version, base.position
	// A key keeps its lineage from its first write until a rebuild or a
	// delete; a record written before records had one gets one now.
	lineage := base.lineage
	if !base.present || lineage == 0 {
		lineage = newLineage()
	}
	for _, ev := range events {
		pos, err := r.positionOf(ev)
		if err != nil {
			return nil, 0, err
		}
		if pos != 0 {
			if pos > base.position && pos <= position {
				continue // a duplicate of an event earlier in this fold
			}
			ok, err := r.admit(e.key, pos, position, committedPos)
			if err != nil {
				return nil, 0, err
			}
			if !ok {
				continue
			}
			position = pos
		}
		delta, err := r.fold(e.key, work, ev)
		if err != nil {
			return nil, 0, err
		}
		version++
		u := Update[S, D]{Key: e.key, Kind: KindDelta, Version: version, Lineage: lineage, Delta: delta}
		if build {
			if u.State, err = r.copyOf(work); err != nil {
				return nil, 0, err
			}
		}
		p.updates = append(p.updates, u)
	}
	if version == base.version {
		c.parts = c.parts[:len(c.parts)-1]
		return nil, committedVer, nil
	}
	b, err := r.codec.encode(work)
	if err != nil {
		return nil, 0, err
	}
	p.rec = record[S]{present: true, state: *work, bytes: b, version: version, stamp: newStamp(), lineage: lineage, position: position, updatedAt: r.now()}
	p.folded = version - base.version
	p.stateless = !build
	return p, 0, nil
}

// newStamp returns the stamp of a new version: random, so that a version
// number written twice (by two writers, or before and after a rebuild) never
// carries the same stamp twice.
func newStamp() uint64 { return rand.Uint64() }

// copyOf returns a deep copy of *s for subscribers.
func (r *Runtime[E, S, D]) copyOf(s *S) (S, error) {
	var b []byte
	if !r.codec.valueCopy && r.codec.deep == nil {
		// Encoding is only needed when clone cannot copy without it.
		var err error
		if b, err = r.codec.encode(s); err != nil {
			return *s, err
		}
	}
	return r.codec.clone(s, b)
}

// write returns the store write of p: it replaces the record p's fold built
// on with p.rec, or deletes it when p.rec is not present.
func (r *Runtime[E, S, D]) write(key string, p *commitPart[S, D]) store.Write {
	return store.Write{
		Bucket:      p.e.bucket,
		Key:         key,
		Expect:      p.expect,
		ExpectStamp: p.expectStamp,
		Delete:      !p.rec.present,
		Record: store.Record{
			Version:   p.rec.version,
			Stamp:     p.rec.stamp,
			Lineage:   p.rec.lineage,
			UpdatedAt: p.rec.updatedAt,
			Position:  p.rec.position,
			State:     p.rec.bytes,
		},
	}
}

// pin returns key's cache entry, loading it from the store if absent or
// stale, with its lineage, and keeps it from being evicted until unpin. The
// caller holds key's lock, so no fold of key can be submitted meanwhile:
// what is loaded is current, and commits of key still in flight were folded
// on a record the store no longer has, so they will fail.
func (r *Runtime[E, S, D]) pin(ctx context.Context, key string) (*entry[S, D], lineage[S], error) {
	g := r.current()
	sh := g.cache.shardOf(key)
	for {
		sh.mu.Lock()
		e := sh.m[key]
		if e != nil && !e.stale {
			e.pins++
			sh.hits++
			sh.touchLocked(e)
			lin := e.lineageLocked()
			sh.mu.Unlock()
			return e, lin, nil
		}
		sh.misses++
		if e != nil {
			e.pins++ // a stale entry in use is reloaded in place
		}
		news := sh.news
		sh.mu.Unlock()

		loaded, err := r.load(ctx, g.bucket, key)
		sh.mu.Lock()
		if err != nil {
			if e != nil {
				e.pins--
			}
			sh.mu.Unlock()
			return nil, lineage[S]{}, err
		}
		if e != nil {
			r.reloadLocked(e, loaded)
			lin := e.lineageLocked()
			sh.mu.Unlock()
			return e, lin, nil
		}
		if e = sh.m[key]; e == nil {
			if sh.news != news {
				// Another writer's commit to the key may have been
				// announced while it loaded (see forget): load again
				// rather than cache what may be older.
				sh.mu.Unlock()
				continue
			}
			e = r.newEntry(g, key, loaded)
			sh.insertLocked(e)
		} else {
			sh.touchLocked(e)
		}
		e.pins++
		lin := e.lineageLocked()
		sh.mu.Unlock()
		return e, lin, nil
	}
}

// reloadLocked replaces stale e's states with rec, just loaded from the
// store, and tells subscribers to resync the key. Versions of the key may
// have been reused by another writer's rebuild, so replay is refused from
// now on.
func (r *Runtime[E, S, D]) reloadLocked(e *entry[S, D], rec record[S]) {
	e.committed, e.pending = rec, rec
	e.gen++
	e.stale = false
	e.clearHistoryLocked()
	if r.listened(e.channel) {
		r.pub.push(e.channel, envelope[S, D]{origin: r.id, kind: envStale, u: Update[S, D]{Key: e.key}})
	}
}

func (r *Runtime[E, S, D]) unpin(e *entry[S, D]) {
	e.sh.mu.Lock()
	e.pins--
	r.releaseLocked(e)
	e.sh.mu.Unlock()
}

// releaseLocked evicts e once it is idle if another runtime committed to its
// key meanwhile, and tells subscribers to resync from the store.
func (r *Runtime[E, S, D]) releaseLocked(e *entry[S, D]) {
	if !e.foreign || e.pins != 0 || e.inflight != 0 {
		return
	}
	e.sh.evictIfIdleLocked(e)
	if r.listened(e.channel) {
		r.pub.push(e.channel, envelope[S, D]{origin: r.id, kind: envStale, u: Update[S, D]{Key: e.key}})
	}
}

// forget is told by a subscription that another runtime committed to key:
// the cached states of key are out of date. An idle entry is evicted now,
// a busy one once idle (see releaseLocked).
func (r *Runtime[E, S, D]) forget(key string) {
	sh := r.current().cache.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[key]; e != nil {
		e.foreign = true
		sh.evictIfIdleLocked(e)
		return
	}
	// A read may be loading the key, and may have read it before the other
	// runtime's commit: counted as an eviction, this makes it load again
	// rather than cache what it read (see readCommitted and pin).
	sh.evictions++
	sh.news++
}

// ApplyBatch folds events in one transaction: all of them become durable or
// none does. Events of one key fold in their order in the slice; each key's
// version grows by its number of events folded (Positioned duplicates are
// skipped). Updates are published after the
// commit, one KindDelta per event. This is the catch-up and replay path.
//
// [Positioned] events whose position was already folded are skipped
// silently; a gap fails the whole batch. Other errors are those of Apply; on
// any of them nothing changed. An empty batch does nothing and returns nil.
func (r *Runtime[E, S, D]) ApplyBatch(ctx context.Context, events []E) error {
	if err := r.enterWriter(ctx); err != nil {
		return err
	}
	defer r.exitWriter()
	folded, err := r.applyBatch(ctx, events)
	if err != nil {
		r.failed(err)
		return err
	}
	r.stats.batches.Add(1)
	r.stats.applies.Add(folded)
	r.stats.duplicates.Add(uint64(len(events)) - folded)
	return nil
}

// applyBatch is ApplyBatch; it returns how many events were folded.
func (r *Runtime[E, S, D]) applyBatch(ctx context.Context, events []E) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("projection %q: %w", r.name, err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	// Group the events by key, keeping their order within a key, and sort
	// the keys: locks are taken in key order so that batches cannot
	// deadlock each other, and the store gets its writes in key order.
	keys := make([]string, len(events))
	order := make([]int32, len(events))
	for i, ev := range events {
		k, err := r.keyOf(ev)
		if err != nil {
			return 0, err
		}
		keys[i], order[i] = k, int32(i)
	}
	// Sorting indices by (key, position) keeps each key's events in order
	// and moves 4 bytes per swap instead of an event.
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Or(strings.Compare(keys[a], keys[b]), cmp.Compare(a, b))
	})
	sorted := make([]E, len(events))
	var runs []keyRun
	for i, at := range order {
		sorted[i] = events[at]
		if i == 0 || keys[at] != keys[order[i-1]] {
			runs = append(runs, keyRun{key: keys[at], start: i})
		}
		runs[len(runs)-1].end = i + 1
	}
	for attempt := 1; ; {
		c, err := r.foldBatch(ctx, runs, sorted)
		if errors.Is(err, errInFlight) {
			<-c.result
			r.putReq(c)
			continue
		}
		if err != nil {
			return 0, err
		}
		if c == nil {
			return 0, nil // every event was a duplicate
		}
		var folded uint64
		for i := range c.parts {
			folded += c.parts[i].folded
		}
		err = <-c.result
		r.putReq(c)
		if r.retry(err, &attempt) {
			continue
		}
		if err != nil {
			return 0, r.storeErr("", fmt.Errorf("batch of %d events: %w", len(events), err))
		}
		return folded, nil
	}
}

// keyRun is the events of one key in a sorted batch: events[start:end].
type keyRun struct {
	key        string
	start, end int
}

// foldBatch locks every key of a batch, folds its events and queues the
// result; see foldAndSubmit for what it returns.
func (r *Runtime[E, S, D]) foldBatch(ctx context.Context, runs []keyRun, events []E) (*commitReq[E, S, D], error) {
	unlocks := make([]func(), 0, len(runs))
	pinned := make([]*entry[S, D], 0, len(runs))
	defer func() {
		for _, e := range pinned {
			r.unpin(e)
		}
		for _, u := range unlocks {
			u()
		}
	}()
	for _, run := range runs {
		u, err := r.locks.LockContext(ctx, run.key)
		if err != nil {
			return nil, fmt.Errorf("projection %q, key %q: %w", r.name, run.key, err)
		}
		unlocks = append(unlocks, u)
	}
	c := r.getReq()
	for _, run := range runs {
		e, lin, err := r.pin(ctx, run.key)
		if err != nil {
			r.putReq(c)
			return nil, err
		}
		pinned = append(pinned, e)
		p, _, err := r.foldPart(c, e, lin, events[run.start:run.end])
		if errors.Is(err, ErrGap) {
			err = r.confirmGap(ctx, e, lin, err)
		}
		if errors.Is(err, errInFlight) {
			c, _, err = r.barrier(ctx, c, run.key, err)
			return c, err
		}
		if err != nil {
			r.putReq(c)
			return nil, err
		}
		if p != nil {
			c.writes = append(c.writes, r.write(run.key, p))
			c.events = append(c.events, events[run.start:run.end])
		}
	}
	if len(c.parts) == 0 {
		r.putReq(c)
		return nil, nil
	}
	if err := r.submit(ctx, c); err != nil {
		r.putReq(c)
		return nil, r.storeErr("", err)
	}
	return c, nil
}
