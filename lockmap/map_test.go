package lockmap_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/lockmap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Ensure that a counter guarded only by the key's lock sees no lost updates
// when many goroutines increment it (run with -race).
func TestMap_Lock_MutualExclusion(t *testing.T) {
	m := lockmap.New[string]()
	const goroutines, rounds = 32, 200
	counter := 0
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				unlock := m.Lock("k")
				counter++
				unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, goroutines*rounds, counter)
	assert.Equal(t, 0, m.Len())
}

// Ensure that Lock, TryLock and LockContext exclude one another on one key.
func TestMap_MixedAcquirers_MutualExclusion(t *testing.T) {
	m := lockmap.New[int]()
	const rounds = 300
	counter := 0
	var wg sync.WaitGroup
	worker := func(acquire func() (func(), bool)) {
		defer wg.Done()
		for done := 0; done < rounds; {
			unlock, ok := acquire()
			if !ok {
				continue
			}
			counter++
			unlock()
			done++
		}
	}
	for range 4 {
		wg.Add(3)
		go worker(func() (func(), bool) { return m.Lock(7), true })
		go worker(func() (func(), bool) { return m.TryLock(7) })
		go worker(func() (func(), bool) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			unlock, err := m.LockContext(ctx, 7)
			return unlock, err == nil
		})
		wg.Add(1)
		go worker(func() (func(), bool) {
			// Cancelled concurrently: either outcome must keep the invariants.
			ctx, cancel := context.WithCancel(context.Background())
			go cancel()
			unlock, err := m.LockContext(ctx, 7)
			return unlock, err == nil
		})
	}
	wg.Wait()
	assert.Equal(t, 16*rounds, counter)
	assert.Equal(t, 0, m.Len())
}

// Ensure that holding one key does not block locking another.
func TestMap_Lock_KeysIndependent(t *testing.T) {
	m := lockmap.New[string]()
	unlockA := m.Lock("a")
	defer unlockA()

	lockedB := make(chan func())
	go func() { lockedB <- m.Lock("b") }()
	// If "b" depended on "a", this receive would never complete and the test
	// would time out; "a" is released only by the deferred call.
	unlockB := <-lockedB
	assert.Equal(t, 2, m.Len())
	unlockB()

	unlockB, ok := m.TryLock("b")
	require.True(t, ok, "TryLock(b) while a is held")
	unlockB()
	assert.Equal(t, 1, m.Len())
}

// Ensure that a waiter gets the lock once the holder releases it, and not
// before.
func TestMap_Lock_WaiterGetsLockAfterUnlock(t *testing.T) {
	m := lockmap.New[string]()
	unlock := m.Lock("k")

	acquired := make(chan func())
	go func() { acquired <- m.Lock("k") }()
	waitRefs(t, m, "k", 2)
	assert.Equal(t, 1, m.Len(), "holder and waiter share one entry")
	select {
	case <-acquired:
		t.Fatal("second Lock returned while the key was held")
	default:
	}
	_, ok := m.TryLock("k")
	assert.False(t, ok, "TryLock while held")

	unlock()
	unlock2 := <-acquired
	assert.Equal(t, 1, m.Len())
	unlock2()
	assert.Equal(t, 0, m.Len())
}

func TestMap_TryLock(t *testing.T) {
	m := lockmap.New[int]()
	unlock, ok := m.TryLock(1)
	require.True(t, ok, "TryLock on a free key")
	require.NotNil(t, unlock)

	again, ok := m.TryLock(1)
	assert.False(t, ok, "TryLock on a held key")
	assert.Nil(t, again)
	assert.Equal(t, 1, m.Len(), "failed TryLock must not leave a reference")

	unlock()
	assert.Equal(t, 0, m.Len())
	unlock, ok = m.TryLock(1)
	require.True(t, ok, "TryLock after unlock")
	unlock()
}

func TestMap_Len_ZeroAfterManyDistinctKeys(t *testing.T) {
	m := lockmap.New[int]()
	const keys = 5000
	unlocks := make([]func(), 0, keys)
	for k := range keys {
		unlocks = append(unlocks, m.Lock(k))
	}
	assert.Equal(t, keys, m.Len())
	for _, unlock := range unlocks {
		unlock()
	}
	assert.Equal(t, 0, m.Len())

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				m.Lock(g*keys + k)()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 0, m.Len())
}

func TestMap_LockContext_AlreadyCancelled(t *testing.T) {
	m := lockmap.New[string]()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	unlock, err := m.LockContext(ctx, "free")
	assert.Nil(t, unlock)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, lockmap.ErrNotAcquired)
	assert.Equal(t, "lockmap: lock not acquired: context canceled", err.Error())
	assert.Equal(t, 0, m.Len())

	// The key was never taken.
	unlock, ok := m.TryLock("free")
	require.True(t, ok)
	unlock()
}

func TestMap_LockContext_CancelWhileWaiting_LeavesNoEntry(t *testing.T) {
	m := lockmap.New[string]()
	unlock := m.Lock("k")

	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error)
	go func() {
		u, err := m.LockContext(ctx, "k")
		if u != nil {
			u()
		}
		result <- err
	}()
	// Cancelling before the waiter blocks would exercise the already-cancelled
	// path instead; wait until its reference is visible.
	waitRefs(t, m, "k", 2)
	cancel()
	err := <-result
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, lockmap.ErrNotAcquired)
	assert.Equal(t, 1, m.Len(), "only the holder's entry remains")

	unlock()
	assert.Equal(t, 0, m.Len())
	m.Lock("k")()
	assert.Equal(t, 0, m.Len())
}

func TestMap_LockContext_DeadlineWhileWaiting(t *testing.T) {
	m := lockmap.New[string]()
	unlock := m.Lock("k")
	defer unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	got, err := m.LockContext(ctx, "k")
	assert.Nil(t, got)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, lockmap.ErrNotAcquired)
	assert.Equal(t, 1, m.Len())
}

func TestMap_LockContext_KeepsCause(t *testing.T) {
	m := lockmap.New[string]()
	errShutdown := errors.New("shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errShutdown)

	_, err := m.LockContext(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, errShutdown)
	assert.ErrorIs(t, err, lockmap.ErrNotAcquired)
}

// Ensure that cancelling the context after LockContext returned the lock
// does not release it.
func TestMap_LockContext_CancelAfterAcquire_KeepsLock(t *testing.T) {
	m := lockmap.New[string]()
	ctx, cancel := context.WithCancel(context.Background())
	unlock, err := m.LockContext(ctx, "k")
	require.NoError(t, err)
	cancel()

	_, ok := m.TryLock("k")
	assert.False(t, ok, "lock released by cancelling its context")
	unlock()
	assert.Equal(t, 0, m.Len())
}

// Ensure that the race between a release and a cancellation never leaves the
// lock held or an entry behind, whichever side wins.
func TestMap_LockContext_CancelRacesUnlock(t *testing.T) {
	m := lockmap.New[int]()
	for i := range 300 {
		unlock := m.Lock(i)
		ctx, cancel := context.WithCancel(context.Background())
		result := make(chan func())
		go func() {
			u, err := m.LockContext(ctx, i)
			if err != nil {
				u = nil
			}
			result <- u
		}()
		go cancel()
		unlock()
		if u := <-result; u != nil {
			u()
		}
		cancel()
		require.Equal(t, 0, m.Len(), "round %d", i)

		unlock = m.Lock(i)
		_, ok := m.TryLock(i)
		require.False(t, ok, "round %d: TryLock succeeded on a held key", i)
		unlock()
	}
}

func TestMap_Unlock_TwicePanics(t *testing.T) {
	m := lockmap.New[string]()
	unlock := m.Lock("k")
	unlock()
	assert.PanicsWithValue(t, "lockmap: unlock of unlocked key", unlock)
	assert.Equal(t, 0, m.Len())

	// The map is still consistent: the key locks and unlocks normally.
	unlock2, ok := m.TryLock("k")
	require.True(t, ok)
	unlock2()
	assert.Equal(t, 0, m.Len())
}

// Ensure that a stale unlock cannot release the lock of a later holder of the
// same key, even when that holder reuses the same internal entry.
func TestMap_Unlock_StaleDoesNotReleaseLaterHolder(t *testing.T) {
	m := lockmap.New[string]()
	first := m.Lock("k")
	first()
	second := m.Lock("k")

	assert.PanicsWithValue(t, "lockmap: unlock of unlocked key", first)
	_, ok := m.TryLock("k")
	assert.False(t, ok, "stale unlock released the current holder")
	assert.Equal(t, 1, m.Len())

	second()
	assert.Equal(t, 0, m.Len())
}

// Ensure that a double unlock while another goroutine waits neither releases
// the lock nor loses the waiter's reference.
func TestMap_Unlock_TwiceWithWaiter(t *testing.T) {
	m := lockmap.New[int]()
	unlock := m.Lock(1)
	acquired := make(chan func())
	go func() { acquired <- m.Lock(1) }()
	waitRefs(t, m, 1, 2)

	unlock()
	next := <-acquired
	assert.Panics(t, unlock)
	_, ok := m.TryLock(1)
	assert.False(t, ok)
	next()
	assert.Equal(t, 0, m.Len())
}

func TestMap_Lock_UnhashableKeyPanicsWithoutBreakingMap(t *testing.T) {
	m := lockmap.New[any]()
	assert.Panics(t, func() { m.Lock([]int{1}) })
	assert.Equal(t, 0, m.Len())
	unlock, ok := m.TryLock("fine")
	require.True(t, ok)
	unlock()
	assert.Equal(t, 0, m.Len())
}

func TestMap_Unlock_FromOtherGoroutine(t *testing.T) {
	m := lockmap.New[string]()
	unlock := m.Lock("k")
	done := make(chan struct{})
	go func() {
		defer close(done)
		unlock()
	}()
	<-done
	assert.Equal(t, 0, m.Len())
}

func ExampleMap() {
	m := lockmap.New[string]()
	balances := map[string]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := m.Lock("alice")
			defer unlock()
			balances["alice"] += 10 // the map itself is guarded by the one key used
		}()
	}
	wg.Wait()
	fmt.Println(balances["alice"], m.Len())
	// Output: 100 0
}

func ExampleMap_LockContext() {
	m := lockmap.New[string]()
	unlock := m.Lock("k")
	defer unlock()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.LockContext(ctx, "k")
	fmt.Println(err)
	// Output: lockmap: lock not acquired: context canceled
}

// Ensure that a TryLock failing while the holder releases neither keeps the
// lock nor leaves an entry, and that recycled entries still exclude.
func TestMap_TryLock_RacesUnlock(t *testing.T) {
	m := lockmap.New[int]()
	for i := range 300 {
		unlock := m.Lock(i % 3)
		result := make(chan func())
		go func() {
			u, _ := m.TryLock(i % 3)
			result <- u
		}()
		unlock()
		if u := <-result; u != nil {
			u()
		}
		require.Equal(t, 0, m.Len(), "round %d", i)

		// Whatever entry the next Lock gets, recycled or not, must exclude.
		unlock = m.Lock(i % 3)
		_, ok := m.TryLock(i % 3)
		require.False(t, ok, "round %d: TryLock succeeded on a held key", i)
		unlock()
	}
}
