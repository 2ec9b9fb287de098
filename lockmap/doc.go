// Package lockmap provides per-key mutual-exclusion locks that exist only
// while they are used.
//
// A Map[K] hands out one lock per key: Lock, LockContext and TryLock take it,
// and each returns an unlock func that releases it. The projection runtime
// holds a key's lock while it folds an event into that key's state.
//
// # Basics
//
//	m := lockmap.New[string]()
//	unlock := m.Lock("order-42")
//	defer unlock()
//
// The zero Map is not usable: create one with New.
//
// # Guarantees
//
//   - Mutual exclusion per key: at most one goroutine holds a key's lock at a
//     time. A call to unlock synchronizes before the return of the call that
//     next acquires the same key, so whatever the holder wrote is visible to
//     the next holder.
//   - Keys are independent: holding or waiting on one key never blocks
//     another. The only locks shared between keys are the bucket locks of the
//     underlying xsync.MapOf, held for a few instructions per call.
//   - No leak: a key's entry is removed as soon as nobody holds or waits on
//     it, so Len returns to 0 once every lock is released, however many
//     distinct keys were used. A LockContext that gives up leaves neither an
//     entry nor a held lock behind.
//   - Fairness is that of a Go channel: on unlock the lock passes straight to
//     a goroutine already blocked in Lock or LockContext, never to a later
//     caller, and current Go runtimes pick the one that has waited longest.
//     Strict FIFO order is a property of the runtime, not of the language
//     specification, so do not build correctness on it.
//   - Locks are not reentrant: locking a key the calling goroutine holds
//     deadlocks in Lock, fails in TryLock and waits for ctx to end in
//     LockContext.
//
// # Ownership of unlock
//
// Each successful acquisition returns its own unlock func. It must be called
// exactly once, from any goroutine. Calling it a second time is a programmer
// error: it panics with "lockmap: unlock of unlocked key" and leaves the map
// untouched, even if another goroutine has locked the key since.
//
// # Caveats
//
//   - Every successful acquisition allocates its unlock func (one small
//     object). xsync.MapOf also allocates a map node whenever it inserts a
//     key or updates one in place: once per uncontended Lock, and once per
//     join and leave of an entry other goroutines use. Lock entries and their
//     channels are recycled. Uncontended Lock plus unlock thus makes two
//     allocations (BenchmarkMap_Lock_Uncontended measures it).
//   - Keys must be hashable at run time: with an interface-typed K, a key
//     holding, say, a slice makes the call panic, as a Go map would. The
//     panic happens before any lock is taken, so the Map stays usable.
//   - There is no Close: a Map holds no goroutines and nothing to release.
package lockmap
