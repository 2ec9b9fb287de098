package fuzz

import (
	"context"
	"errors"
	"testing"

	"github.com/livefold/livefold/lockmap"
)

// lockMapKeys is how many keys a FuzzLockMap script works on: few, so that
// operations collide.
const lockMapKeys = 4

// Operations of a FuzzLockMap script; each input byte b is one operation,
// b%lockMapOps, on key (b/lockMapOps)%lockMapKeys.
const (
	lmOpLock            = iota // Lock, or TryLock if the script holds the key (Lock would deadlock)
	lmOpUnlock                 // unlock the key if the script holds it
	lmOpTryLock                // TryLock
	lmOpLockCancelled          // LockContext with a ctx cancelled before the call
	lmOpLockCancelRaced        // LockContext with a ctx cancelled concurrently, then cancelled after
	lmOpDoubleUnlock           // call an unlock func that was already called
	lockMapOps
)

// FuzzLockMap runs random scripts of Lock, unlock, TryLock and LockContext
// over a few keys against a model of which keys are held. The script never
// blocks on a key it holds: it only tries such keys, or waits on them with a
// context that is being cancelled.
func FuzzLockMap(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{lmOpLock, lmOpUnlock})
	f.Add([]byte{lmOpLock, lmOpLock, lmOpTryLock, lmOpUnlock, lmOpDoubleUnlock, lmOpTryLock, lmOpUnlock})
	// Stale unlocks while keys are held again, possibly through the same
	// recycled entries, must not release them.
	f.Add([]byte{lmOpLock, lmOpUnlock, lmOpLock, lmOpDoubleUnlock, lmOpTryLock, lmOpUnlock})
	f.Add([]byte{lmOpLock, lmOpUnlock, lmOpLock + lockMapOps, lmOpLock, lmOpDoubleUnlock, lmOpUnlock, lmOpUnlock + lockMapOps})
	f.Add([]byte{lmOpLock, lmOpLockCancelRaced, lmOpLockCancelled, lmOpUnlock, lmOpLockCancelRaced, lmOpUnlock})
	f.Add([]byte{
		lmOpLock, lmOpLock + lockMapOps, lmOpLock + 2*lockMapOps, lmOpLock + 3*lockMapOps,
		lmOpUnlock + lockMapOps, lmOpDoubleUnlock + lockMapOps, lmOpTryLock + lockMapOps,
		lmOpLockCancelRaced + 2*lockMapOps, lmOpUnlock + 2*lockMapOps, lmOpLockCancelRaced + 2*lockMapOps,
	})

	f.Fuzz(func(t *testing.T, script []byte) {
		m := lockmap.New[int]()
		held := map[int]func(){} // the model: keys the script holds, with their unlock
		var spent []func()       // unlock funcs already called

		acquired := func(key int, unlock func()) {
			if unlock == nil {
				t.Fatalf("key %d: acquired with a nil unlock", key)
			}
			held[key] = unlock
		}
		release := func(key int) {
			held[key]()
			spent = append(spent, held[key])
			delete(held, key)
		}

		for step, b := range script {
			key := int(b/lockMapOps) % lockMapKeys
			switch b % lockMapOps {
			case lmOpLock:
				if _, ok := held[key]; ok {
					if _, ok := m.TryLock(key); ok {
						t.Fatalf("step %d: TryLock(%d) succeeded on a held key", step, key)
					}
					break
				}
				acquired(key, m.Lock(key))
			case lmOpUnlock:
				if _, ok := held[key]; ok {
					release(key)
				}
			case lmOpTryLock:
				unlock, ok := m.TryLock(key)
				_, isHeld := held[key]
				if ok == isHeld {
					t.Fatalf("step %d: TryLock(%d) = %v; want %v", step, key, ok, !isHeld)
				}
				if ok {
					acquired(key, unlock)
				}
			case lmOpLockCancelled:
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				unlock, err := m.LockContext(ctx, key)
				if unlock != nil || !errors.Is(err, context.Canceled) || !errors.Is(err, lockmap.ErrNotAcquired) {
					t.Fatalf("step %d: LockContext(cancelled, %d) = %v, %v; want nil, canceled", step, key, unlock != nil, err)
				}
			case lmOpLockCancelRaced:
				ctx, cancel := context.WithCancel(context.Background())
				_, isHeld := held[key]
				if isHeld {
					// Cancelled before or while it waits: it must give up either way.
					done := make(chan struct{})
					go func() {
						defer close(done)
						cancel()
					}()
					unlock, err := m.LockContext(ctx, key)
					<-done
					if unlock != nil || !errors.Is(err, context.Canceled) {
						t.Fatalf("step %d: LockContext(%d) on a held key = %v, %v; want nil, canceled", step, key, unlock != nil, err)
					}
					break
				}
				unlock, err := m.LockContext(ctx, key)
				cancel() // after acquisition: must not release it
				if err != nil {
					t.Fatalf("step %d: LockContext(%d) on a free key: %v", step, key, err)
				}
				acquired(key, unlock)
			case lmOpDoubleUnlock:
				// Every recent one: any of them may share its internal entry
				// with a lock the script holds now.
				for i, stale := range spent[max(0, len(spent)-8):] {
					if !lockMapDoubleUnlockPanics(stale) {
						t.Fatalf("step %d: second call of spent unlock %d did not panic", step, i)
					}
				}
			}

			if got, want := m.Len(), len(held); got != want {
				t.Fatalf("step %d (byte %d): Len() = %d; want %d held keys", step, b, got, want)
			}
			for k := range lockMapKeys {
				unlock, ok := m.TryLock(k)
				_, isHeld := held[k]
				if ok == isHeld {
					t.Fatalf("step %d: probe TryLock(%d) = %v; model says held = %v", step, k, ok, isHeld)
				}
				if ok {
					unlock()
				}
			}
		}

		for key := range held {
			release(key)
		}
		if got := m.Len(); got != 0 {
			t.Fatalf("Len() = %d after releasing every key; want 0", got)
		}
	})
}

// lockMapDoubleUnlockPanics reports whether fn panicked with lockmap's double-unlock message.
func lockMapDoubleUnlockPanics(fn func()) (ok bool) {
	defer func() {
		ok = recover() == "lockmap: unlock of unlocked key"
	}()
	fn()
	return false
}
