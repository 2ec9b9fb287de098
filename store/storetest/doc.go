// Package storetest checks that an implementation of [store.Store] keeps the
// contract that package store documents, and offers [Faulty], a wrapper that
// injects commit failures and holds callbacks, for tests of code built on a
// store.
//
// # Conformance
//
// An implementation runs [Run] from one of its tests, with a [Harness] that
// says how to open a fresh store and, optionally, how to do what only the
// implementation can (reopen its data, damage a record, open a second
// writer):
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			Open: func(t *testing.T) store.Store {
//				s, err := mystore.Open(t.TempDir())
//				if err != nil {
//					t.Fatal(err)
//				}
//				return s
//			},
//		})
//	}
//
// Every rule is a subtest, grouped by topic (Submit, Expect, Conflict,
// ReadYourWrites, Force, Damage, Scan, Validation, RoundTrip, Close, Stress),
// so that one rule can be run alone with -run, and a failing rule logs the
// sentence of the contract it breaks. A rule that needs a hook the harness
// lacks is skipped with a message naming the hook: a skip is never a pass.
// Run the suite with -race: the stress rules are there for the race
// detector as much as for their assertions.
//
// # Hooks
//
// Open is the only required field of [Harness]. The others give the suite
// powers only the implementation has:
//
//   - Reopen opens the data of a closed store again, as a restarted process
//     would; the rule that Close keeps every accepted request needs it.
//   - Damage corrupts the stored bytes of one record (for bbolt: close the
//     store, rewrite the value with bbolt directly, reopen); the rules about
//     damaged records and Force over them need it.
//   - Second returns another writer of the same data (the store itself for a
//     store with one writer per process, a second connection pool for a
//     database server); the rule that two writers lose no update needs it.
//
// A store that cannot walk buckets, whose Scan and Keys yield
// [store.ErrUnsupported] as the contract allows, passes: the rules about
// walks are skipped and the others check through Get alone.
//
// The suite is deterministic: it never sleeps, and waits only for callbacks
// and calls (each wait fails the rule after a generous time rather than
// hanging the test binary). Some rules hold one done callback while they
// submit a few more requests, so that those form one batch in a store that
// groups commits; a store must accept at least 8 requests while a callback
// runs.
//
// Key order, for Scan and Keys, is the byte order of the keys (Go's string
// comparison), which is also the order of valid UTF-8 code points.
//
// # Ownership of stores
//
// The suite closes every store a hook hands it, when the rule ends
// (t.Cleanup), and fails the rule if that Close returns an error; a hook that
// closes a store itself may, as a second Close returns nil. Hooks fail t
// rather than return errors.
//
// # Faults
//
// [Faulty] wraps any store.Store and forwards every method. It can fail the
// next submissions in commit order, with an error wrapping [store.ErrCommit]
// and [ErrInjected] or one of the caller's choosing, without writing anything
// of them; hold the next done callback until released, which keeps a store
// that reports outcomes in order from reporting later ones; and tell a test
// when a submission was accepted. With nothing armed it keeps the contract,
// which its own tests check with Run.
package storetest
