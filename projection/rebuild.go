package projection

import (
	"context"
	"fmt"
	"iter"
)

// Rebuild replaces key's snapshot with the fold of events from the zero
// state, atomically: a crash leaves either the old snapshot or the new one.
// The new version is the number of events. Subscribers get one KindRebuild
// update carrying the full state. With no events the snapshot is deleted, the
// zero state is returned and a KindDeleted update is published.
//
// Rebuild holds key's lock while it iterates events, so applies of key wait
// for it. An event whose Key is not key fails the rebuild with
// ErrKeyMismatch; a panicking fold fails it with ErrApplyPanic; in both cases
// and on every other error nothing changed. The returned state belongs to
// the caller.
func (r *Runtime[E, S, D]) Rebuild(ctx context.Context, key string, events iter.Seq[E]) (S, error) {
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
	c, err := r.rebuildAndSubmit(ctx, key, events)
	unlock()
	if err != nil {
		return zero, err
	}
	err = <-c.result
	p := &c.parts[0]
	var state S
	if err == nil && p.rec.present {
		state, err = r.codec.clone(p.rec.state, p.rec.bytes)
	}
	r.putReq(c)
	if err != nil {
		return zero, r.storeErr(key, err)
	}
	return state, nil
}

func (r *Runtime[E, S, D]) rebuildAndSubmit(ctx context.Context, key string, events iter.Seq[E]) (*commitReq[E, S, D], error) {
	var state S
	var n uint64
	for ev := range events {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("projection %q, key %q: rebuild: %w", r.name, key, err)
		}
		k, err := r.keyOf(ev)
		if err != nil {
			return nil, err
		}
		if k != key {
			return nil, fmt.Errorf("%w: projection %q: rebuilding %q, event %d belongs to %q", ErrKeyMismatch, r.name, key, n+1, k)
		}
		if _, err := r.fold(key, &state, ev); err != nil {
			return nil, err
		}
		n++
	}

	e, err := r.pin(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.unpin(e)
	e.sh.mu.Lock()
	base, gen := e.pending.version, e.gen
	e.sh.mu.Unlock()

	c := r.getReq()
	p := c.addPart(e, gen)
	u := Update[S, D]{Key: key, Kind: KindDeleted}
	if n > 0 {
		b, err := r.codec.encode(&state)
		if err != nil {
			r.putReq(c)
			return nil, err
		}
		p.rec = record[S]{present: true, state: state, bytes: b, version: n, updatedAt: r.now()}
		if u.State, err = r.codec.clone(state, b); err != nil {
			r.putReq(c)
			return nil, err
		}
		u.Kind, u.Version = KindRebuild, n
	}
	p.updates = append(p.updates, u)
	c.writes = append(c.writes, r.write(key, base, p.rec))
	if err := r.submit(ctx, c); err != nil {
		r.putReq(c)
		return nil, r.storeErr(key, err)
	}
	return c, nil
}
