package projection

import (
	"context"
	"fmt"
	"slices"

	"github.com/livefold/livefold/boltstore"
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
// Errors, with nothing changed: ErrInvalidKey, ErrApplyPanic (Key or Apply
// panicked), ErrEncode, ErrCorrupt (the stored snapshot cannot be read),
// ErrClosed, ctx errors, and commit failures from the store.
func (r *Runtime[E, S, D]) Apply(ctx context.Context, event E) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("projection %q: %w", r.name, err)
	}
	key, err := r.keyOf(event)
	if err != nil {
		return 0, err
	}
	unlock, err := r.locks.LockContext(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("projection %q, key %q: %w", r.name, key, err)
	}
	c, err := r.foldAndSubmit(ctx, key, event)
	unlock()
	if err != nil {
		return 0, err
	}
	err = <-c.result
	version := c.parts[0].rec.version
	r.putReq(c)
	if err != nil {
		return 0, r.storeErr(key, err)
	}
	return version, nil
}

// foldAndSubmit folds event on key's pending state and queues the result.
// The caller holds key's lock.
func (r *Runtime[E, S, D]) foldAndSubmit(ctx context.Context, key string, event E) (*commitReq[E, S, D], error) {
	e, err := r.pin(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.unpin(e)
	c := r.getReq()
	p, base, err := r.foldPart(c, e, func(state *S, emit func(D) error) error {
		delta, err := r.fold(key, state, event)
		if err != nil {
			return err
		}
		return emit(delta)
	})
	if err != nil {
		r.putReq(c)
		return nil, err
	}
	c.writes = append(c.writes, r.write(key, base, p.rec))
	if err := r.submit(ctx, c); err != nil {
		r.putReq(c)
		return nil, r.storeErr(key, err)
	}
	return c, nil
}

// foldPart adds a part for e to c: it runs fold on a private copy of e's
// pending state, where fold calls emit after each event with the delta it
// returned, and encodes the result. It returns the part and the version the
// fold built on. The caller holds e's key lock and a pin on e.
func (r *Runtime[E, S, D]) foldPart(c *commitReq[E, S, D], e *entry[S, D],
	fold func(state *S, emit func(D) error) error) (*commitPart[S, D], uint64, error) {
	e.sh.mu.Lock()
	base, gen := e.pending, e.gen
	e.sh.mu.Unlock()

	work, err := r.codec.clone(base.state, base.bytes)
	if err != nil {
		return nil, 0, r.corrupt(e.key, err)
	}
	p := c.addPart(e, gen)
	version := base.version
	withUpdates := r.needUpdates(e)
	err = fold(&work, func(delta D) error {
		version++
		if !withUpdates {
			return nil
		}
		// The state after this event, for subscribers; encoding is only
		// needed here when clone cannot copy without it.
		var b []byte
		if !r.codec.valueCopy {
			var err error
			if b, err = r.codec.encode(&work); err != nil {
				return err
			}
		}
		st, err := r.codec.clone(work, b)
		if err != nil {
			return err
		}
		p.updates = append(p.updates, Update[S, D]{Key: e.key, Kind: KindDelta, Version: version, Delta: delta, State: st})
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	b, err := r.codec.encode(&work)
	if err != nil {
		return nil, 0, err
	}
	p.rec = record[S]{present: true, state: work, bytes: b, version: version, position: base.position, updatedAt: r.now()}
	return p, base.version, nil
}

// write returns the store write that replaces key's snapshot at version
// expect with rec (or deletes it when rec is not present).
func (r *Runtime[E, S, D]) write(key string, expect uint64, rec record[S]) boltstore.Write {
	return boltstore.Write{
		Bucket: r.name,
		Key:    key,
		Expect: expect,
		Delete: !rec.present,
		Record: boltstore.Record{
			Version:   rec.version,
			UpdatedAt: rec.updatedAt,
			Position:  rec.position,
			State:     rec.bytes,
		},
	}
}

// pin returns key's cache entry, loading it from the store if absent, and
// keeps it from being evicted until unpin. The caller holds key's lock, so no
// commit of key can be in flight when the entry is absent: what is loaded is
// current.
func (r *Runtime[E, S, D]) pin(ctx context.Context, key string) (*entry[S, D], error) {
	sh := r.cache.shardOf(key)
	sh.mu.Lock()
	if e := sh.m[key]; e != nil {
		e.pins++
		sh.touchLocked(e)
		sh.mu.Unlock()
		return e, nil
	}
	sh.mu.Unlock()

	loaded, err := r.load(ctx, key)
	if err != nil {
		return nil, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[key]
	if e == nil {
		e = r.newEntry(key, loaded)
		e.pins++
		sh.insertLocked(e)
		return e, nil
	}
	e.pins++
	sh.touchLocked(e)
	return e, nil
}

func (r *Runtime[E, S, D]) unpin(e *entry[S, D]) {
	e.sh.mu.Lock()
	e.pins--
	e.sh.mu.Unlock()
}

// ApplyBatch folds events in one transaction: all of them become durable or
// none does. Events of one key fold in their order in the slice; each key's
// version grows by its number of events. Updates are published after the
// commit, one KindDelta per event. This is the catch-up and replay path.
//
// Errors are those of Apply; on any of them nothing changed. An empty batch
// does nothing and returns nil.
func (r *Runtime[E, S, D]) ApplyBatch(ctx context.Context, events []E) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("projection %q: %w", r.name, err)
	}
	if len(events) == 0 {
		return nil
	}
	keys := make([]string, len(events))
	byKey := make(map[string][]int)
	for i, ev := range events {
		k, err := r.keyOf(ev)
		if err != nil {
			return err
		}
		keys[i] = k
		byKey[k] = append(byKey[k], i)
	}
	// Locks are taken in key order so that batches cannot deadlock each other.
	order := make([]string, 0, len(byKey))
	for k := range byKey {
		order = append(order, k)
	}
	slices.Sort(order)
	unlocks := make([]func(), 0, len(order))
	defer func() {
		for _, u := range unlocks {
			u()
		}
	}()
	for _, k := range order {
		u, err := r.locks.LockContext(ctx, k)
		if err != nil {
			return fmt.Errorf("projection %q, key %q: %w", r.name, k, err)
		}
		unlocks = append(unlocks, u)
	}

	c := r.getReq()
	pinned := make([]*entry[S, D], 0, len(order))
	defer func() {
		for _, e := range pinned {
			r.unpin(e)
		}
	}()
	for _, k := range order {
		e, err := r.pin(ctx, k)
		if err != nil {
			r.putReq(c)
			return err
		}
		pinned = append(pinned, e)
		p, base, err := r.foldPart(c, e, func(state *S, emit func(D) error) error {
			for _, i := range byKey[k] {
				delta, err := r.fold(k, state, events[i])
				if err != nil {
					return err
				}
				if err := emit(delta); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			r.putReq(c)
			return err
		}
		c.writes = append(c.writes, r.write(k, base, p.rec))
	}
	if err := r.submit(ctx, c); err != nil {
		r.putReq(c)
		return fmt.Errorf("projection %q: %w", r.name, r.storeErr(order[0], err))
	}
	// The locks may go now: later applies fold on the pending states.
	for _, u := range unlocks {
		u()
	}
	unlocks = unlocks[:0]
	err := <-c.result
	r.putReq(c)
	if err != nil {
		return fmt.Errorf("projection %q: batch of %d events: %w", r.name, len(events), err)
	}
	return nil
}
