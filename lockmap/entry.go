package lockmap

import "sync/atomic"

// entry is the lock of one key. It sits in Map.entries while refs > 0 and is
// recycled through Map.spares once the last holder or waiter lets go.
type entry struct {
	// refs counts the holder and the waiters of the key. It is read and written
	// only inside Map.entries.Compute callbacks, so the xsync bucket lock of the
	// key guards it.
	refs int64

	// sem is the lock itself: a token in its one-slot buffer means "held". A
	// channel rather than a sync.Mutex so that LockContext can wait on the lock
	// and on ctx.Done() in one select.
	sem chan struct{}

	// gen numbers the acquisitions of this entry, never reset when the entry is
	// recycled, so each unlock func can tell whether its acquisition is still
	// the one in force. Guarded by sem: only the current holder touches it.
	gen uint64

	// owner is the gen of the acquisition holding sem, or 0 when nobody holds
	// it. Atomic because a stale unlock func (a double unlock) may test it while
	// another goroutine holds the lock or the entry serves another key.
	owner atomic.Uint64
}

// newEntry makes an unheld entry with no references.
func newEntry() any {
	return &entry{sem: make(chan struct{}, 1)}
}

// ref registers the caller as a waiter on key's entry, creating the entry if
// the key has none, and returns it. The entry stays in the map until the
// matching unref.
func (m *Map[K]) ref(key K) *entry {
	// The spare is fetched outside Compute: the callback below must not run
	// anything that could panic, because a panic inside Compute leaves the xsync
	// bucket locked for good (puzpuzpuz/xsync issue #208).
	spare := m.spares.Get().(*entry)
	e, _ := m.entries.Compute(key, func(old *entry, loaded bool) (*entry, bool) {
		if !loaded {
			old = spare
		}
		old.refs++
		return old, false
	})
	if e != spare {
		m.spares.Put(spare)
	}
	return e
}

// unref drops a reference taken by ref and removes the key's entry when it
// was the last one. The caller must not hold e.sem's token any more.
func (m *Map[K]) unref(key K, e *entry) {
	_, live := m.entries.Compute(key, func(old *entry, loaded bool) (*entry, bool) {
		if !loaded {
			// Unreachable while references are balanced: ours keeps the entry
			// mapped. Deleting an absent key is a no-op, and unlike a nil
			// dereference it cannot panic inside Compute.
			return nil, true
		}
		old.refs--
		return old, old.refs == 0
	})
	if !live {
		// Nobody can reach e any more except stale unlock funcs, which only
		// compare owner against their own, older, gen.
		m.spares.Put(e)
	}
}

// held records that the caller has just taken e.sem for key and returns the
// unlock func of this acquisition.
func (m *Map[K]) held(key K, e *entry) func() {
	e.gen++
	gen := e.gen
	e.owner.Store(gen)
	// A fresh closure per acquisition (one allocation) rather than one cached
	// in the entry: a cached func could not tell a second call from the unlock
	// of a later holder, and would silently release that holder's lock.
	return func() {
		if !e.owner.CompareAndSwap(gen, 0) {
			panic(errMsgDoubleUnlock)
		}
		<-e.sem
		m.unref(key, e)
	}
}
