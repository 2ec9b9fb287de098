package projection

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// Rebuild replaces key's snapshot with the fold of events from the zero
// state, atomically: a crash leaves either the old snapshot or the new one.
// The new version is the number of events folded (Positioned duplicates in
// events are folded once). Subscribers get one KindRebuild update carrying
// the full state. With no events the snapshot is deleted, the zero state is
// returned and a KindDeleted update is published.
//
// Rebuild holds key's lock while it iterates events and until its commit is
// durable, so applies of key wait for it. (A rebuild may give the key a
// version it had before; an apply folded on a rebuild whose commit then
// failed could not tell, from versions alone, that it built on nothing.) An event whose Key is not key fails the rebuild with
// ErrKeyMismatch; a panicking fold fails it with ErrApplyPanic; in both cases
// and on every other error nothing changed. The returned state belongs to
// the caller.
func (r *Runtime[E, S, D]) Rebuild(ctx context.Context, key string, events iter.Seq[E]) (S, error) {
	var zero S
	if err := r.enterWriter(ctx); err != nil {
		return zero, err
	}
	defer r.exitWriter()
	s, err := r.rebuild(ctx, key, events)
	if err != nil {
		r.failed(err)
		return zero, err
	}
	r.stats.rebuilds.Add(1)
	return s, nil
}

func (r *Runtime[E, S, D]) rebuild(ctx context.Context, key string, events iter.Seq[E]) (S, error) {
	var zero S
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("projection %q: %w", r.name, err)
	}
	if err := ValidKey(key); err != nil {
		return zero, fmt.Errorf("projection %q: %w", r.name, err)
	}
	unlock, err := r.locks.LockContext(ctx, key)
	if err != nil {
		return zero, fmt.Errorf("projection %q, key %q: %w", r.name, key, err)
	}
	defer unlock()
	c, err := r.rebuildAndSubmit(ctx, key, events)
	if err != nil {
		return zero, err
	}
	err = <-c.result
	p := &c.parts[0]
	var state S
	if err == nil && p.rec.present {
		state, err = r.codec.clone(&p.rec.state, p.rec.bytes)
	}
	r.putReq(c)
	if err != nil {
		return zero, r.storeErr(key, err)
	}
	return state, nil
}

func (r *Runtime[E, S, D]) rebuildAndSubmit(ctx context.Context, key string, events iter.Seq[E]) (*commitReq[E, S, D], error) {
	state, n, position, err := r.foldHistory(ctx, key, events)
	if err != nil {
		return nil, err
	}

	e, lin, err := r.pinForRebuild(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.unpin(e)

	c := r.getReq()
	p := c.addPart(e, lin.gen, lin.base)
	u := Update[S, D]{Key: key, Kind: KindDeleted}
	if n > 0 {
		b, err := r.codec.encode(&state)
		if err != nil {
			r.putReq(c)
			return nil, err
		}
		p.rec = record[S]{present: true, state: state, bytes: b, version: n, stamp: newStamp(), lineage: newLineage(), position: position, updatedAt: r.now()}
		if u.State, err = r.codec.clone(&state, b); err != nil {
			r.putReq(c)
			return nil, err
		}
		u.Kind, u.Version, u.Lineage = KindRebuild, n, p.rec.lineage
	}
	p.updates = append(p.updates, u)
	p.reset = true
	c.events = append(c.events, nil)
	// A rebuild replaces whatever the store holds, also a record another
	// writer changed meanwhile or a damaged one: no Expect to fail on.
	w := r.write(key, p)
	w.Force = true
	c.writes = append(c.writes, w)
	if err := r.submit(ctx, c); err != nil {
		r.putReq(c)
		return nil, r.storeErr(key, err)
	}
	return c, nil
}

// pinForRebuild is pin, except that a damaged snapshot is not an error: a
// rebuild is how it gets repaired. Then the entry is a private one, outside
// the cache. The caller holds key's lock.
func (r *Runtime[E, S, D]) pinForRebuild(ctx context.Context, key string) (*entry[S, D], lineage[S], error) {
	e, lin, err := r.pin(ctx, key)
	if !errors.Is(err, ErrCorrupt) {
		return e, lin, err
	}
	r.cfg.logger.Warn("projection: rebuilding over a damaged snapshot", "projection", r.name, "key", key, "err", err)
	g := r.current()
	e = r.newEntry(g, key, record[S]{})
	e.sh = g.cache.shardOf(key)
	e.pins = 1
	return e, e.lineageLocked(), nil
}

// foldHistory folds events, all of key, from the zero state and returns the
// state, how many events it folded and the last stream position. It
// recovers a panic of Key or Apply once for the whole loop rather than per
// event, which keeps a rebuild of millions of events close to a plain loop.
func (r *Runtime[E, S, D]) foldHistory(ctx context.Context, key string, events iter.Seq[E]) (state S, n, position uint64, err error) {
	inApply := false // which projection method a panic came from
	defer func() {
		if v := recover(); v != nil {
			pe := &PanicError{Projection: r.name, Value: v}
			if inApply {
				pe.Key = key
			}
			err = pe
		}
	}()
	for ev := range events {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return state, 0, 0, fmt.Errorf("projection %q, key %q: rebuild: %w", r.name, key, err)
			}
		}
		// key was validated; an event whose key equals it needs no check.
		if k := r.p.Key(ev); k != key {
			return state, 0, 0, fmt.Errorf("%w: projection %q: rebuilding %q, event %d belongs to %q", ErrKeyMismatch, r.name, key, n+1, k)
		}
		pos, err := r.positionOf(ev)
		if err != nil {
			return state, 0, 0, err
		}
		if pos != 0 {
			ok, err := r.admit(key, pos, position, position)
			if err != nil {
				return state, 0, 0, err
			}
			if !ok {
				continue // a duplicate in the history: fold it once
			}
			position = pos
		}
		inApply = true
		r.p.Apply(&state, ev)
		inApply = false
		n++
	}
	return state, n, position, nil
}
