package projection

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
// of this event or of one it was folded on fails, Apply fails and the key is
// as it was before.
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
// (store.ErrCommit), and ErrAborted when an apply this one was folded on
// failed to commit.
func (r *Runtime[E, S, D]) Apply(ctx context.Context, event E) (uint64, error) {
	if err := r.enter(); err != nil {
		return 0, err
	}
	defer r.gate.exit()
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
	events := [1]E{event}
	for {
		unlock, err := r.locks.LockContext(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("projection %q, key %q: %w", r.name, key, err)
		}
		c, version, err := r.foldAndSubmitLocked(ctx, key, events[:], unlock)
		switch {
		case errors.Is(err, errDupInFlight):
			// c is a barrier behind the commit that folded this position:
			// once it is done, that commit's outcome is known.
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
		if err != nil {
			return 0, r.storeErr(key, err)
		}
		return version, nil
	}
}

// foldAndSubmitLocked is foldAndSubmit followed by unlock, also if it
// panics.
func (r *Runtime[E, S, D]) foldAndSubmitLocked(ctx context.Context, key string, events []E, unlock func()) (*commitReq[E, S, D], uint64, error) {
	defer unlock()
	return r.foldAndSubmit(ctx, key, events)
}

// foldAndSubmit folds events, all of key, on key's pending state and queues
// the result. The caller holds key's lock. It returns a nil request and the
// committed version when every event was a duplicate, and a queued barrier
// with errDupInFlight when one may be the duplicate of an event in flight.
func (r *Runtime[E, S, D]) foldAndSubmit(ctx context.Context, key string, events []E) (*commitReq[E, S, D], uint64, error) {
	e, lin, err := r.pin(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	defer r.unpin(e)
	c := r.getReq()
	p, base, err := r.foldPart(c, e, lin, events)
	switch {
	case errors.Is(err, errDupInFlight):
		return r.barrier(ctx, c, key, err)
	case err != nil:
		r.putReq(c)
		return nil, 0, err
	case p == nil:
		r.putReq(c)
		return nil, base, nil
	}
	c.writes = append(c.writes, r.write(key, base, p.rec))
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
// pin read from e, and adds the result to c as a part. It returns the part
// (nil if every event was a duplicate) and the version the fold built on
// (with a nil part: the committed version). The caller holds e's key lock and
// a pin on e.
func (r *Runtime[E, S, D]) foldPart(c *commitReq[E, S, D], e *entry[S, D], lin lineage[S], events []E) (*commitPart[S, D], uint64, error) {
	base, gen, committedPos, committedVer := lin.base, lin.gen, lin.committedPos, lin.committedVer
	work, err := r.codec.clone(base.state, base.bytes)
	if err != nil {
		return nil, 0, r.corrupt(e.key, err)
	}
	p := c.addPart(e, gen)
	version, position := base.version, base.position
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
		delta, err := r.fold(e.key, &work, ev)
		if err != nil {
			return nil, 0, err
		}
		version++
		// Built whether or not anyone listens yet: a subscriber may
		// arrive before the commit, and the history keeps it anyway.
		st, err := r.copyOf(&work)
		if err != nil {
			return nil, 0, err
		}
		p.updates = append(p.updates, Update[S, D]{Key: e.key, Kind: KindDelta, Version: version, Delta: delta, State: st})
	}
	if version == base.version {
		c.parts = c.parts[:len(c.parts)-1]
		return nil, committedVer, nil
	}
	b, err := r.codec.encode(&work)
	if err != nil {
		return nil, 0, err
	}
	p.rec = record[S]{present: true, state: work, bytes: b, version: version, position: position, updatedAt: r.now()}
	p.folded = version - base.version
	return p, base.version, nil
}

// copyOf returns a deep copy of *s for subscribers.
func (r *Runtime[E, S, D]) copyOf(s *S) (S, error) {
	var b []byte
	if !r.codec.valueCopy {
		// Encoding is only needed when clone cannot copy without it.
		var err error
		if b, err = r.codec.encode(s); err != nil {
			return *s, err
		}
	}
	return r.codec.clone(*s, b)
}

// write returns the store write that replaces key's snapshot at version
// expect with rec (or deletes it when rec is not present).
func (r *Runtime[E, S, D]) write(key string, expect uint64, rec record[S]) store.Write {
	return store.Write{
		Bucket: r.name,
		Key:    key,
		Expect: expect,
		Delete: !rec.present,
		Record: store.Record{
			Version:   rec.version,
			UpdatedAt: rec.updatedAt,
			Position:  rec.position,
			State:     rec.bytes,
		},
	}
}

// pin returns key's cache entry, loading it from the store if absent, with
// its lineage, and keeps it from being evicted until unpin. The caller holds
// key's lock, so no commit of key can be in flight when the entry is absent:
// what is loaded is current.
func (r *Runtime[E, S, D]) pin(ctx context.Context, key string) (*entry[S, D], lineage[S], error) {
	sh := r.cache.shardOf(key)
	sh.mu.Lock()
	if e := sh.m[key]; e != nil {
		e.pins++
		sh.hits++
		sh.touchLocked(e)
		lin := e.lineageLocked()
		sh.mu.Unlock()
		return e, lin, nil
	}
	sh.misses++
	sh.mu.Unlock()

	loaded, err := r.load(ctx, key)
	if err != nil {
		return nil, lineage[S]{}, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[key]
	if e == nil {
		e = r.newEntry(key, loaded)
		e.pins++
		sh.insertLocked(e)
		return e, e.lineageLocked(), nil
	}
	e.pins++
	sh.touchLocked(e)
	return e, e.lineageLocked(), nil
}

func (r *Runtime[E, S, D]) unpin(e *entry[S, D]) {
	e.sh.mu.Lock()
	e.pins--
	e.sh.mu.Unlock()
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
	if err := r.enter(); err != nil {
		return err
	}
	defer r.gate.exit()
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
	for {
		c, err := r.foldBatch(ctx, runs, sorted)
		if errors.Is(err, errDupInFlight) {
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
		p, base, err := r.foldPart(c, e, lin, events[run.start:run.end])
		if errors.Is(err, errDupInFlight) {
			c, _, err = r.barrier(ctx, c, run.key, err)
			return c, err
		}
		if err != nil {
			r.putReq(c)
			return nil, err
		}
		if p != nil {
			c.writes = append(c.writes, r.write(run.key, base, p.rec))
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
