// Package store is the storage contract of livefold: the records a runtime
// persists, the requests that change them, the errors and limits every
// implementation shares, and the [Store] interface. A projection runtime
// talks to storage only through this package, so a bbolt file
// (livefold/boltstore), a database server, or a wrapper that adds metrics or
// injects faults all plug in the same way. The conformance suite in
// store/storetest checks every rule below against an implementation.
//
// # Data model
//
// A store holds buckets (one per projection name) of records by key. A
// [Record] is a snapshot's Version (events folded, never 0), its Stamp (a
// value the writer chooses per version, used to tell apart two versions with
// the same number), UpdatedAt, Position and the encoded State, which the
// store treats as opaque bytes.
//
// # Requests
//
// Submit enqueues a request, a slice of [Write]s that commit atomically: all
// become durable or none does. Once Submit returned nil, its done callback is
// called exactly once with the outcome, after the request's commit was made
// durable (nil) or failed. The rules, which storetest checks:
//
//   - Order. Requests are applied and reported in submission order: a
//     request's done returns before a later request's done starts, and
//     done(nil) means every earlier request's outcome is known too.
//   - Expect. Every write names the version and stamp it replaces (Expect 0
//     and ExpectStamp 0: the key must be absent). The check sees every earlier
//     request, also those committed in the same batch; the first write that
//     finds anything else fails its whole request with a *[ConflictError]
//     (errors.Is [ErrConflict]), which changes nothing and fails no other
//     request.
//   - Force. A write with Force skips the check and replaces whatever is
//     there, a damaged record included: for rebuilds and repair tools.
//   - Damage. A write that must read a damaged record to check it fails its
//     request with a *[CorruptError] (errors.Is [ErrCorrupt]).
//   - Failure. If the commit itself fails (a disk, a network), every request
//     committed with it fails with an error wrapping [ErrCommit] and nothing
//     of them is stored; the store keeps serving later requests.
//   - Barrier. An empty request writes nothing; its done runs after every
//     earlier request's.
//   - Read your writes. Get, Scan and Keys called after a done(nil) returned
//     see that write (or a newer one).
//   - Validation. Invalid requests (see [CheckWrites]) are refused by Submit
//     itself, synchronously, and then done is never called.
//
// done is called on a goroutine the store owns, and the store may wait for it
// before it reports the next outcome: done must be quick and must not wait
// for the store (a done that calls a blocking method of the same store, or
// waits for another request's outcome, can deadlock it). A panicking done is
// recovered.
//
// # Reads
//
// Get returns one record. Scan walks a bucket in key order and yields each
// record, or for a damaged one its key with an error satisfying errors.Is
// [ErrCorrupt], and carries on; a failure to read at all ends the walk with
// one last error. Keys walks a bucket's keys in key order without reading
// states, damaged records included. Returned states belong to the caller.
//
// # Changes by other handles
//
// Changes yields what other handles of the same data commit (another
// process on a shared database), so that a runtime can tell its subscribers.
// It never yields the handle's own commits. A store that no other handle can
// write (a file locked by one process) says so with ErrUnsupported.
//
// # Close
//
// Close stops accepting requests, lets every accepted request commit and
// report, and releases the store. Every later call returns an error wrapping
// [ErrClosed]; Closed reports it from the moment Close began.
//
// # Capabilities
//
// Every method is part of the interface, so a wrapper forwards them all and
// hides nothing. A store that cannot do something returns an error wrapping
// [ErrUnsupported] from that method (Scan and Keys yield it).
package store
