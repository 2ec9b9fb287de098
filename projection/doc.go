// Package projection keeps live read models: it folds every event into a
// per-key snapshot, persists the snapshot durably through a store.Store (a
// *boltstore.Store, or any implementation of the contract in package store)
// and publishes what changed on a *pubsub.Bus.
//
// # Basics
//
// A [Projection] names itself, says which key an event belongs to, and folds
// an event into the key's state, returning a delta. [New] binds a projection
// to a store and an optional bus and returns a [Runtime]. [Runtime.Apply]
// folds one event and returns once the new snapshot is durable;
// [Runtime.ApplyBatch] folds many in one transaction; [Runtime.Rebuild]
// replaces one key's snapshot atomically with the fold of an event sequence.
// [Runtime.Read] returns the last committed snapshot.
//
// # Concurrency
//
// All methods of a Runtime are safe for concurrent use. Applies on different
// keys run in parallel and share group commits. Applies on one key fold one
// at a time, in the order they get the key's lock, on the latest state,
// committed or not, so a hot key is not limited to one commit per event; each
// caller still returns only after its own event is durable. If a commit
// fails, the key returns to its last committed state, in memory, on disk and
// for subscribers, and the applies that folded on top of it are folded again
// on that state.
//
// Read takes no key lock, so it never waits for a fold or a commit, and never
// sees a torn state: it returns the snapshot of some committed version. (It
// takes the mutex of the key's cache shard for a moment, as commits do.)
//
// # Several writers
//
// A runtime need not be the only writer of its projection: every write names
// the version and stamp of the record it replaces, and the store refuses it
// if the key changed meanwhile. The runtime then reloads the key from the
// store and folds the event again, so concurrent writers through one store
// (two runtimes, or two processes on a shared database) lose no event and
// apply none twice. A runtime learns of another's commits when it next folds
// the key, and, when the runtimes share a bus, at once: its subscriptions
// resync the key from the store.
//
// # Ownership
//
// States returned by Read, ReadRequired and Rebuild belong to the caller: the
// runtime keeps no reference to them, so mutating a returned map or slice
// changes nothing stored or folded next. Updates delivered to subscribers are
// shared by every subscriber of the same update and must be treated as
// read-only.
//
// States are deep-copied cheaply when the state type holds no pointers, maps,
// slices or interfaces (a plain copy suffices), through a Clone method when
// the state type has one (see [Cloner]), otherwise by a deep copy that gives
// what a msgpack round trip would (exported fields, skipping those tagged
// "-"), and through a msgpack round trip itself for types that copy cannot
// reproduce (unexported or interface fields, msgpack encoders of their own).
//
// # Live updates
//
// Updates are published on the channel [Runtime.Channel] of their key only
// after their commit succeeded, in version order per key. The store's
// goroutine only records a commit and queues its updates; a goroutine of the
// runtime, running while there is something to deliver, hands them to the
// bus, so no subscriber ever runs on, or slows, the commit path. Updates
// travel in a type of the runtime's own, so only its subscriptions (Subscribe,
// SubscribeAll, SSEHandler) receive them: a raw pubsub subscriber of the
// channel receives nothing.
//
// A subscriber that stops reading never blocks an Apply: its buffer is
// bounded, and once it reads again it receives a [KindResync] update carrying
// the full current state, after which deltas continue. Every update carries
// its key's version, so a client can check for gaps on its own.
//
// Until its first subscription a runtime makes no copies of states for
// subscribers and keeps no history for [WithSince]: an apply then encodes its
// state once. From the first subscription on, every update carries a state of
// its own.
//
// # Redelivered events
//
// Events that implement [Positioned] carry their position in their key's
// stream. The runtime stores the last position folded with the snapshot, in
// the same commit, and folds each position once: a redelivered event returns
// [ErrDuplicate] and changes nothing, a gap returns [ErrGap] (unless
// [WithGaps]). This gives an exactly-once effect over an at-least-once
// source.
//
// # Closing
//
// [Runtime.Close] lets calls in flight finish (an apply waits for its
// commit), then refuses every call with [ErrClosed] and ends every
// subscription. It does not close the store or the bus, which may be shared:
// close the store after every runtime that uses it.
//
// # Errors
//
// Bad input (an empty or over-long key, a key function or fold that panics, a
// cancelled context) returns an error and changes nothing. Errors are
// sentinel values to test with errors.Is: [ErrNotFound], [ErrInvalidKey],
// [ErrKeyMismatch], [ErrApplyPanic], [ErrAborted], [ErrDuplicate],
// [ErrGap], [ErrClosed], [ErrCorrupt] and others.
package projection
