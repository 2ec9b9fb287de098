package storetest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/livefold/livefold/store"
)

// ErrInjected is wrapped, next to store.ErrCommit, by the failures Faulty
// injects unless told another error: a test tells them from real ones with
// errors.Is.
var ErrInjected = errors.New("storetest: injected failure")

// Faulty wraps a store.Store, forwards every method to it, and injects the
// faults a test arms: failed submissions (FailNext, FailNextWith) and a held
// done callback (HoldNext); NotifySubmit tells the test when a submission
// was accepted. With nothing armed it behaves exactly as the wrapped store.
// Create it with NewFaulty; its methods are safe for concurrent use.
//
// A failed submission is validated like any other (store.CheckWrites), then
// replaced by an empty request to the wrapped store, whose done reports the
// failure: so the failure is reported in commit order, after every earlier
// request's outcome and before every later one's, and nothing of it is
// written whatever its Expect and Force.
type Faulty struct {
	inner store.Store

	mu       sync.Mutex    // guards the fields below
	failing  int           // how many of the next accepted submissions fail
	failWith error         // what they fail with; nil: ErrInjected and store.ErrCommit
	armed    uint64        // counts FailNextWith calls, so a refused Submit gives back only its own arming
	hold     *heldCallback // armed by HoldNext, taken by the next accepted submission
	notify   chan<- struct{}
}

// heldCallback is one armed HoldNext.
type heldCallback struct {
	held    chan struct{} // closed when the held callback is called
	release chan struct{} // closed by release
	once    sync.Once
}

var _ store.Store = (*Faulty)(nil)

// NewFaulty returns a Faulty wrapping s with nothing armed. Closing the
// Faulty closes s.
func NewFaulty(s store.Store) *Faulty { return &Faulty{inner: s} }

// Unwrap returns the wrapped store.
func (f *Faulty) Unwrap() store.Store { return f.inner }

// FailNext makes the next n submissions that Submit accepts fail, each with
// an error wrapping store.ErrCommit and ErrInjected, reported through done in
// commit order; nothing of them is written. It replaces what FailNext or
// FailNextWith armed before; n <= 0 disarms.
func (f *Faulty) FailNext(n int) { f.FailNextWith(n, nil) }

// FailNextWith is FailNext with the error to report, such as a
// *store.ConflictError; a nil err means FailNext's.
func (f *Faulty) FailNextWith(n int, err error) {
	f.mu.Lock()
	f.failing, f.failWith = max(n, 0), err
	f.armed++
	f.mu.Unlock()
}

// HoldNext makes the done callback of the next submission that Submit
// accepts wait until release is called, before it calls the caller's done;
// held is closed once it waits. A store that reports outcomes in order, as
// the contract requires, then reports nothing submitted later until release:
// a commit stays in flight. release may be called more than once, also
// before the callback waits. Release before closing the store: Close waits
// for the held callback. A HoldNext not yet taken is replaced, and its held
// channel never closes.
func (f *Faulty) HoldNext() (held <-chan struct{}, release func()) {
	h := &heldCallback{held: make(chan struct{}), release: make(chan struct{})}
	f.mu.Lock()
	f.hold = h
	f.mu.Unlock()
	return h.held, func() { h.once.Do(func() { close(h.release) }) }
}

// NotifySubmit makes every submission that Submit accepts from now on send
// one value on ch before Submit returns, waiting until ch takes it: size its
// buffer, or receive, accordingly. A nil ch stops the notifications.
func (f *Faulty) NotifySubmit(ch chan<- struct{}) {
	f.mu.Lock()
	f.notify = ch
	f.mu.Unlock()
}

// Submit forwards to the wrapped store, with the faults armed; see Faulty.
// An armed fault is used up only by a submission the store accepts.
func (f *Faulty) Submit(ctx context.Context, writes []store.Write, done func(error)) error {
	f.mu.Lock()
	fail, failWith, armed := f.failing > 0, f.failWith, f.armed
	if fail {
		f.failing--
	}
	hold := f.hold
	f.hold = nil
	notify := f.notify
	f.mu.Unlock()

	err := f.submit(ctx, writes, done, fail, failWith, hold)
	if err != nil {
		// Refused: the faults stay armed for the next submission.
		f.mu.Lock()
		if fail && f.armed == armed {
			f.failing++
		}
		if hold != nil && f.hold == nil {
			f.hold = hold
		}
		f.mu.Unlock()
		return err
	}
	if notify != nil {
		notify <- struct{}{}
	}
	return nil
}

func (f *Faulty) submit(ctx context.Context, writes []store.Write, done func(error), fail bool, failWith error, hold *heldCallback) error {
	if fail {
		if _, err := store.CheckWrites(writes); err != nil {
			return fmt.Errorf("storetest: %w", err)
		}
		if failWith == nil {
			failWith = fmt.Errorf("%w: %w", store.ErrCommit, ErrInjected)
		}
		caller := done
		done = func(error) {
			if caller != nil {
				caller(failWith)
			}
		}
		writes = nil
	}
	if hold != nil {
		caller := done
		done = func(err error) {
			close(hold.held)
			<-hold.release
			if caller != nil {
				caller(err)
			}
		}
	}
	return f.inner.Submit(ctx, writes, done)
}

// Get forwards to the wrapped store.
func (f *Faulty) Get(ctx context.Context, bucket, key string) (store.Record, bool, error) {
	return f.inner.Get(ctx, bucket, key)
}

// Scan forwards to the wrapped store.
func (f *Faulty) Scan(ctx context.Context, bucket string) iter.Seq2[store.KeyRecord, error] {
	return f.inner.Scan(ctx, bucket)
}

// Keys forwards to the wrapped store.
func (f *Faulty) Keys(ctx context.Context, bucket string) iter.Seq2[string, error] {
	return f.inner.Keys(ctx, bucket)
}

// Changes forwards to the wrapped store.
func (f *Faulty) Changes(ctx context.Context) iter.Seq2[store.Change, error] {
	return f.inner.Changes(ctx)
}

// Closed forwards to the wrapped store.
func (f *Faulty) Closed() bool { return f.inner.Closed() }

// Close closes the wrapped store. A held callback must be released first.
func (f *Faulty) Close() error { return f.inner.Close() }
