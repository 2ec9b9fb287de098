package lockmap

import "sync/atomic"

// entry is the lock of one key. It sits in Map.entries while refs > 0 and is
// recycled through Map.spares once the last holder or waiter lets go.
//
// An entry enters and leaves the map held: a spare carries a token in sem, so
// the caller that creates a key's entry holds the lock without a channel
// operation, and the holder that removes it needs none either. Channel
// operations happen only when the lock passes between goroutines.
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
	// the one in force. Only the current holder touches it.
	gen uint64

	// owner is the gen of the acquisition in force, or 0 between holders.
	// Atomic because a stale unlock func (a double unlock) may test it while
	// another goroutine holds the lock or the entry serves another key.
	owner atomic.Uint64
}

// newEntry makes a spare: held, with no references.
func newEntry() any {
	e := &entry{sem: make(chan struct{}, 1)}
	e.sem <- struct{}{}
	return e
}

// ref registers the caller as a waiter on key's entry and returns it. If the
// key had no entry, ref creates one that the caller already holds, and
// reports created.
func (m *Map[K]) ref(key K) (e *entry, created bool) {
	// The spare is fetched outside Compute: the callback below must not run
	// anything that could panic, because a panic inside Compute leaves the xsync
	// bucket locked for good (puzpuzpuz/xsync issue #208).
	spare := m.spares.Get().(*entry)
	e, _ = m.entries.Compute(key, func(old *entry, loaded bool) (*entry, bool) {
		if !loaded {
			old = spare
		}
		old.refs++
		return old, false
	})
	if e != spare {
		m.spares.Put(spare)
		return e, false
	}
	return e, true
}

// unref drops a reference taken by ref and reports whether it was the last
// one, in which case the key's entry is now out of the map and belongs to the
// caller alone.
func (m *Map[K]) unref(key K) (last bool) {
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
	return !live
}

// abandon drops the reference of a caller that did not get the lock.
func (m *Map[K]) abandon(key K, e *entry) {
	if !m.unref(key) {
		return
	}
	// The last holder released sem before we removed the entry, or is about
	// to: it decremented refs while ours still counted, so it saw the entry
	// live and owes one receive. Put the spare's token back once that receive
	// is done. Nobody else can reach e, so this send waits only for that
	// receive, which follows the holder's Compute without any user code.
	e.sem <- struct{}{}
	m.spares.Put(e)
}

// held records that the caller has just taken e for key and returns the
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
		if m.unref(key) {
			// Nobody waits: recycle the entry still held, as spares are.
			m.spares.Put(e)
			return
		}
		// Hand the lock over. The waiters' references keep e in the map.
		<-e.sem
	}
}
