package lockmap

import (
	"context"
	"sync"

	"github.com/puzpuzpuz/xsync/v3"
)

// Map is a set of mutual-exclusion locks, one per key of type K, created on
// first use and removed once nobody holds or waits on them.
//
// Use New to make one: the zero Map is not usable and its methods panic. A
// Map must not be copied after first use. All methods are safe for
// concurrent use.
type Map[K comparable] struct {
	// entries maps each key that is held or waited on to its lock. xsync's
	// per-bucket locks are the only locks shared between keys.
	entries *xsync.MapOf[K, *entry]

	// spares recycles entries (and their channels) of keys nobody uses any
	// more, so that locking a fresh key does not allocate them anew.
	spares sync.Pool
}

// New returns an empty Map.
func New[K comparable]() *Map[K] {
	// Grow-only: the table keeps the capacity of the most keys ever held at
	// once, instead of shrinking and regrowing each time a burst of keys (a
	// batch locking a thousand) comes and goes. Entries are still removed.
	m := &Map[K]{entries: xsync.NewMapOf[K, *entry](xsync.WithGrowOnly())}
	m.spares.New = newEntry
	return m
}

// Lock blocks until the calling goroutine holds key's lock and returns the
// func that releases it.
//
// The returned unlock must be called exactly once; calling it again panics
// with "lockmap: unlock of unlocked key" and changes nothing, even if the key
// has been locked by someone else since. unlock may be called from any
// goroutine. A call to unlock synchronizes before the return of the Lock,
// LockContext or TryLock that next acquires the same key.
func (m *Map[K]) Lock(key K) (unlock func()) {
	e, created := m.ref(key)
	if !created {
		e.sem <- struct{}{}
	}
	return m.held(key, e)
}

// LockContext is Lock that gives up when ctx is done.
//
// If ctx is already done, LockContext fails at once, even if the key is free,
// and does not touch the map. If ctx ends while it waits, it stops waiting.
// On failure it returns a nil unlock and an error wrapping ErrNotAcquired and
// ctx.Err(); it then neither holds the lock nor leaves an entry behind. Once
// it has returned the lock, cancelling ctx has no effect on it.
func (m *Map[K]) LockContext(ctx context.Context, key K) (unlock func(), err error) {
	if ctx.Err() != nil {
		return nil, notAcquired(ctx)
	}
	e, created := m.ref(key)
	if created {
		return m.held(key, e), nil
	}
	// Should both cases be ready, select may pick ctx.Done() although the lock
	// was free; the token was then not sent, so nothing is held.
	select {
	case e.sem <- struct{}{}:
		return m.held(key, e), nil
	case <-ctx.Done():
		m.abandon(key, e)
		return nil, notAcquired(ctx)
	}
}

// TryLock takes key's lock if nobody holds it, without waiting. On success it
// returns the unlock func (with the same rules as Lock's) and true; otherwise
// nil and false. It fails only when some goroutine holds the lock at the
// moment of the attempt, including one to which an unlock has just handed it.
func (m *Map[K]) TryLock(key K) (unlock func(), ok bool) {
	e, created := m.ref(key)
	if created {
		return m.held(key, e), true
	}
	select {
	case e.sem <- struct{}{}:
		return m.held(key, e), true
	default:
		m.abandon(key, e)
		return nil, false
	}
}

// Len returns the number of keys that are held or waited on. It is exact when
// no call on m is in progress; while calls run, it may count keys whose
// calls have not yet returned.
func (m *Map[K]) Len() int {
	return m.entries.Size()
}
