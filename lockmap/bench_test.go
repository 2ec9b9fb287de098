package lockmap_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/livefold/livefold/lockmap"
)

// Lock and unlock of a key nobody else uses: the entry is created and removed
// on every iteration.
func BenchmarkMap_Lock_Uncontended(b *testing.B) {
	m := lockmap.New[int]()
	b.ReportAllocs()
	for b.Loop() {
		m.Lock(1)()
	}
}

// The same key stays held by another owner, so each iteration joins and
// leaves an existing entry (the path of a key with waiters).
func BenchmarkMap_TryLock_Held(b *testing.B) {
	m := lockmap.New[int]()
	unlock := m.Lock(1)
	defer unlock()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := m.TryLock(1); ok {
			b.Fatal("TryLock succeeded on a held key")
		}
	}
}

func BenchmarkMap_LockContext_Uncontended(b *testing.B) {
	m := lockmap.New[int]()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := m.LockContext(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

// Each goroutine locks its own keys: measures how independent keys are.
func BenchmarkMap_Lock_ParallelDistinctKeys(b *testing.B) {
	m := lockmap.New[uint64]()
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		base := next.Add(1) << 32
		for i := uint64(0); pb.Next(); i++ {
			m.Lock(base + i%1024)()
		}
	})
}

// Every goroutine fights for the same key.
func BenchmarkMap_Lock_ContendedOneKey(b *testing.B) {
	m := lockmap.New[int]()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Lock(1)()
		}
	})
}
