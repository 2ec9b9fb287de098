package projection

import (
	"context"
	"fmt"

	"github.com/livefold/livefold/store"
)

// shadow builds a new generation of a projection's snapshots beside the
// current one. It keeps a bounded set of states in memory, least recently
// used first out; a state that leaves is written to the generation's bucket
// and read back when its key comes again, so memory does not grow with the
// number of keys. Writes go out in bounded requests. A shadow belongs to one
// goroutine.
type shadow[E, S, D any] struct {
	r      *Runtime[E, S, D]
	bucket string
	max    int // states kept in memory
	batch  int // writes per request

	m   map[string]*shadowEntry[S]
	lru shadowEntry[S] // sentinel of a circular list, most recent first
	// seen holds the keys met so far, so that a key met for the first
	// time is not looked for in the store: the new generation starts empty
	// and only the shadow writes it.
	seen *keyFilter

	// pending holds the writes of states that left memory, not yet
	// submitted; pendingAt indexes their entries by key, so that a key
	// coming back before they are committed reads them, not the store.
	pending   []store.Write
	pendingAt map[string]*shadowEntry[S]
	// inflight is the one request submitted and not yet known committed,
	// with inflightAt, its pendingAt; done reports its outcome and is nil
	// when nothing is in flight. Folding goes on while the store commits
	// it, and waits only to submit the next: a rebuild that waited for
	// every commit idled for each one and for every checkpoint behind it.
	inflight   []store.Write
	inflightAt map[string]*shadowEntry[S]
	done       chan error

	events, keys uint64 // folded so far; keys counts keys first seen
}

// shadowEntry is one key's state in a new generation.
type shadowEntry[S any] struct {
	key                        string
	state                      S
	present                    bool // false: the key has no state (deleted by a captured Rebuild)
	version, position, lineage uint64
	dirty                      bool
	prev, next                 *shadowEntry[S]
}

// keyFilterBitsPerState sizes a shadow's filter of the keys met by its
// memory bound: 8 bytes per state, next to the few hundred a state in
// memory takes, and 4 bits per key of a key space 16 times the memory.
const keyFilterBitsPerState = 64

func newShadow[E, S, D any](r *Runtime[E, S, D], bucket string, max, batch int) *shadow[E, S, D] {
	sh := &shadow[E, S, D]{
		r: r, bucket: bucket, max: max, batch: batch,
		m:          make(map[string]*shadowEntry[S]),
		pendingAt:  make(map[string]*shadowEntry[S]),
		inflightAt: make(map[string]*shadowEntry[S]),
		seen:       newKeyFilter(min(max, maxKeyFilterBits/keyFilterBitsPerState) * keyFilterBitsPerState),
	}
	sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
	return sh
}

// fold folds ev into key's state in the new generation. A Positioned event
// at or below the key's position is skipped, so events both in the source
// and applied during the rebuild are folded once. Key and Apply panics
// propagate: RebuildAll recovers them once for the whole run.
func (sh *shadow[E, S, D]) fold(ctx context.Context, key string, ev E) error {
	e, err := sh.get(ctx, key)
	if err != nil {
		return err
	}
	pos, err := sh.r.positionOf(ev)
	if err != nil {
		return err
	}
	if pos != 0 {
		ok, err := sh.r.admit(key, pos, e.position, e.position)
		if err != nil || !ok {
			return err
		}
		e.position = pos
	}
	sh.r.p.Apply(&e.state, ev)
	if !e.present {
		e.present, e.version, e.lineage = true, 0, newLineage()
	}
	e.version++
	e.dirty = true
	sh.events++
	return nil
}

// reset replaces key's state in the new generation with rec, what a Rebuild
// of the key committed during the RebuildAll.
func (sh *shadow[E, S, D]) reset(ctx context.Context, key string, rec *rebuilt) error {
	e, err := sh.get(ctx, key)
	if err != nil {
		return err
	}
	var zero S
	e.state, e.present, e.version, e.position, e.lineage = zero, rec.present, rec.version, rec.position, newLineage()
	if rec.present {
		// The runtime's decoded state is shared; the shadow folds its own.
		if e.state, err = sh.r.codec.decode(rec.bytes); err != nil {
			return sh.r.corrupt(key, err)
		}
	}
	e.dirty = true
	return nil
}

// get returns key's entry, from memory, from the writes not yet committed,
// or from the new generation's bucket, and makes it the most recent.
func (sh *shadow[E, S, D]) get(ctx context.Context, key string) (*shadowEntry[S], error) {
	if e := sh.m[key]; e != nil {
		if sh.lru.next != e {
			e.prev.next, e.next.prev = e.next, e.prev
			sh.pushFront(e)
		}
		return e, nil
	}
	// A key read back from the writes not yet committed stays indexed
	// there: if it leaves memory again unchanged, nothing is queued for it,
	// and the store does not hold its state until they are committed.
	e := sh.pendingAt[key]
	if e == nil {
		e = sh.inflightAt[key]
	}
	if e == nil {
		var rec record[S]
		if sh.seen.met(key) {
			var err error
			if rec, err = sh.r.load(ctx, sh.bucket, key); err != nil {
				return nil, err
			}
		}
		e = &shadowEntry[S]{key: key, state: rec.state, present: rec.present, version: rec.version, position: rec.position, lineage: rec.lineage}
		if !rec.present {
			sh.keys++
		}
	}
	sh.m[key] = e
	sh.pushFront(e)
	for len(sh.m) > sh.max {
		if err := sh.evict(ctx, sh.lru.prev); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (sh *shadow[E, S, D]) pushFront(e *shadowEntry[S]) {
	e.prev, e.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = e
	sh.lru.next = e
}

// evict moves e out of memory, queueing its write if it changed.
func (sh *shadow[E, S, D]) evict(ctx context.Context, e *shadowEntry[S]) error {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(sh.m, e.key)
	if !e.dirty {
		return nil
	}
	w, err := sh.write(e)
	if err != nil {
		return err
	}
	e.dirty = false
	sh.pending = append(sh.pending, w)
	sh.pendingAt[e.key] = e
	if len(sh.pending) >= sh.batch {
		return sh.commitPending(ctx)
	}
	return nil
}

// write returns the store write of e's state: forced, as nothing else
// writes the new generation.
func (sh *shadow[E, S, D]) write(e *shadowEntry[S]) (store.Write, error) {
	w := store.Write{Bucket: sh.bucket, Key: e.key, Force: true, Delete: !e.present}
	if !e.present {
		return w, nil
	}
	b, err := sh.r.codec.encode(&e.state)
	if err != nil {
		return w, fmt.Errorf("projection %q, key %q: %w", sh.r.name, e.key, err)
	}
	w.Record = store.Record{Version: e.version, Stamp: newStamp(), Lineage: e.lineage, Position: e.position, UpdatedAt: sh.r.now(), State: b}
	return w, nil
}

// commitPending submits the queued writes as one request, once the request
// before it is committed; it does not wait for this one (settle does).
func (sh *shadow[E, S, D]) commitPending(ctx context.Context) error {
	if err := sh.settle(); err != nil {
		return err
	}
	if len(sh.pending) == 0 {
		return nil
	}
	// A key that came back and left again has two writes queued; the
	// later is its state, and a request may name a key once.
	if len(sh.pending) > 1 {
		last := make(map[string]int, len(sh.pending))
		for i := range sh.pending {
			last[sh.pending[i].Key] = i
		}
		if len(last) < len(sh.pending) {
			kept := sh.pending[:0]
			for i, w := range sh.pending {
				if last[w.Key] == i {
					kept = append(kept, w)
				}
			}
			clear(sh.pending[len(kept):])
			sh.pending = kept
		}
	}
	done := make(chan error, 1)
	if err := sh.r.store.Submit(ctx, sh.pending, func(err error) { done <- err }); err != nil {
		return sh.r.storeErr("", fmt.Errorf("writing the new generation: %w", err))
	}
	// The store owns the submitted slice until done; the next writes
	// queue in the slice of the request before, which is committed.
	sh.done = done
	sh.pending, sh.inflight = sh.inflight, sh.pending
	sh.pendingAt, sh.inflightAt = sh.inflightAt, sh.pendingAt
	return nil
}

// settle waits for the request in flight, if any, and returns its error.
// Once submitted it waits even if ctx ends, as the writes may become
// durable; RebuildAll settles before it removes a partial generation, so
// that no write of it lands after the removal.
func (sh *shadow[E, S, D]) settle() error {
	if sh.done == nil {
		return nil
	}
	err := <-sh.done
	sh.done = nil
	clear(sh.inflight)
	sh.inflight = sh.inflight[:0]
	clear(sh.inflightAt)
	if err != nil {
		return sh.r.storeErr("", fmt.Errorf("writing the new generation: %w", err))
	}
	return nil
}

// flush writes every changed state still in memory and waits until every
// write is committed.
func (sh *shadow[E, S, D]) flush(ctx context.Context) error {
	for e := sh.lru.next; e != &sh.lru; e = e.next {
		if !e.dirty {
			continue
		}
		w, err := sh.write(e)
		if err != nil {
			return err
		}
		e.dirty = false
		sh.pending = append(sh.pending, w)
		if len(sh.pending) >= sh.batch {
			if err := sh.commitPending(ctx); err != nil {
				return err
			}
		}
	}
	if err := sh.commitPending(ctx); err != nil {
		return err
	}
	return sh.settle()
}
