package projection_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/livefold/livefold/projection"
)

// The benchmarks run on a NoSync store (newEnv) so that they measure the
// runtime's own cost: locking, folding, encoding, the cache and the hand-off
// to the committer, not the disk. The durable figures come from the harness
// in bench/. counterState is a plain value, so states are copied, not
// re-decoded.

// BenchmarkApply_OneKey applies from GOMAXPROCS goroutines to one hot key,
// whose applies fold in order and share commits.
func BenchmarkApply_OneKey(b *testing.B) {
	e := newEnv(b)
	rt := newCounter(b, e)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rt.Apply(ctx, counterEvent{Key: "hot", Delta: 1}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	snap, err := rt.ReadRequired(ctx, "hot")
	if err != nil || snap.State.Total != int64(snap.Version) {
		b.Fatalf("hot key: %+v, %v; want total == version", snap, err)
	}
}

// BenchmarkApply_ManyKeys applies from GOMAXPROCS goroutines over 10,000 keys,
// all of which fit the default cache once touched.
func BenchmarkApply_ManyKeys(b *testing.B) {
	const keys = 10_000
	e := newEnv(b)
	rt := newCounter(b, e)
	ctx := context.Background()
	names := make([]string, keys)
	for i := range names {
		names[i] = "k" + strconv.Itoa(i)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := names[next.Add(1)%keys]
			if _, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkApply_Sequential applies from one goroutine to one key: the
// latency of a lone caller, who never waits for company.
func BenchmarkApply_Sequential(b *testing.B) {
	e := newEnv(b)
	rt := newCounter(b, e)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.Apply(ctx, counterEvent{Key: "solo", Delta: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead_Cached reads a key whose state is in the cache: a shard lock,
// a map lookup and a value copy.
func BenchmarkRead_Cached(b *testing.B) {
	e := newEnv(b)
	rt := newCounter(b, e)
	ctx := context.Background()
	if _, err := rt.Apply(ctx, counterEvent{Key: "cached", Delta: 7}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, ok, err := rt.Read(ctx, "cached")
		if err != nil || !ok || snap.State.Total != 7 {
			b.Fatalf("Read = %+v, %v, %v; want total 7", snap, ok, err)
		}
	}
}

// BenchmarkApplyBatch_1000 applies batches of 1000 events over 1000 keys in
// one transaction each, and reports events per second.
func BenchmarkApplyBatch_1000(b *testing.B) {
	const size = 1000
	e := newEnv(b)
	rt := newCounter(b, e)
	ctx := context.Background()
	batch := make([]counterEvent, size)
	for i := range batch {
		batch[i] = counterEvent{Key: "k" + strconv.Itoa(i), Delta: 1}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := rt.ApplyBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRebuild_10000Events rebuilds one key from 10,000 events and
// reports the cost per event folded.
func BenchmarkRebuild_10000Events(b *testing.B) {
	const n = 10_000
	e := newEnv(b)
	rt := newCounter(b, e)
	ctx := context.Background()
	events := func(yield func(counterEvent) bool) {
		for range n {
			if !yield(counterEvent{Key: "rebuilt", Delta: 1}) {
				return
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := rt.Rebuild(ctx, "rebuilt", events)
		if err != nil || s.Total != n {
			b.Fatalf("Rebuild = %+v, %v; want total %d", s, err, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

// sliceState holds a slice, as most real states do: copies cannot be plain
// value copies.
type sliceState struct {
	Total int64
	Last  []int64
}

type slices8 struct{}

func (slices8) Name() string              { return "bench.slices" }
func (slices8) Key(e counterEvent) string { return e.Key }
func (slices8) Apply(s *sliceState, e counterEvent) int64 {
	s.Total += e.Delta
	if len(s.Last) >= 8 {
		s.Last = s.Last[1:]
	}
	s.Last = append(s.Last, e.Delta)
	return s.Total
}

// BenchmarkApply_SliceState applies to 1,000 keys whose state holds a
// slice, with nobody subscribed: the fold's copy and one encode per apply.
func BenchmarkApply_SliceState(b *testing.B) {
	e := newEnv(b)
	rt, err := projection.New(e.store, e.bus, slices8{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// Keys made up front: building them in the loop would count allocations
	// that are not Apply's.
	names := make([]string, 1000)
	for i := range names {
		names[i] = "k" + strconv.Itoa(i)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := names[next.Add(1)%1000]
			if _, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRead_SliceState reads a cached state that holds a slice: each
// Read returns a copy the caller owns.
func BenchmarkRead_SliceState(b *testing.B) {
	e := newEnv(b)
	rt, err := projection.New(e.store, e.bus, slices8{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 8 {
		if _, err := rt.Apply(ctx, counterEvent{Key: "k", Delta: int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, _, err := rt.Read(ctx, "k")
		if err != nil || len(snap.State.Last) != 8 {
			b.Fatalf("Read = %+v, %v", snap, err)
		}
	}
}

// intsState holds no references: a Read copies it as a plain value.
type intsState struct {
	Total, Count, Min, Max int64
	Last                   [8]int64
}

type ints8 struct{}

func (ints8) Name() string              { return "bench.ints" }
func (ints8) Key(e counterEvent) string { return e.Key }
func (ints8) Apply(s *intsState, e counterEvent) int64 {
	s.Total += e.Delta
	s.Count++
	s.Min, s.Max = min(s.Min, e.Delta), max(s.Max, e.Delta)
	s.Last[s.Count%8] = e.Delta
	return s.Total
}

// BenchmarkRead_IntsState reads a cached state without references.
func BenchmarkRead_IntsState(b *testing.B) {
	e := newEnv(b)
	rt, err := projection.New(e.store, e.bus, ints8{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 8 {
		if _, err := rt.Apply(ctx, counterEvent{Key: "k", Delta: int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, _, err := rt.Read(ctx, "k")
		if err != nil || snap.State.Count != 8 {
			b.Fatalf("Read = %+v, %v", snap, err)
		}
	}
}

// mapStates is what a competent user writes without livefold: states in a
// map under a read-write mutex, and a Read that returns a deep copy the
// caller owns.
type mapStates struct {
	mu     sync.RWMutex // guards slices and ints
	slices map[string]sliceState
	ints   map[string]intsState
}

func (m *mapStates) readSlice(key string) (sliceState, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.slices[key]
	s.Last = slices.Clone(s.Last)
	return s, ok
}

func (m *mapStates) readInts(key string) (intsState, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.ints[key]
	return s, ok
}

// BenchmarkBaseline_MapRead is the reference for BenchmarkRead_SliceState and
// BenchmarkRead_IntsState: the same states read from a map of a few keys.
func BenchmarkBaseline_MapRead(b *testing.B) {
	m := &mapStates{slices: map[string]sliceState{}, ints: map[string]intsState{}}
	for i := range 100 {
		k := "k" + strconv.Itoa(i)
		m.slices[k] = sliceState{Total: 28, Last: []int64{0, 1, 2, 3, 4, 5, 6, 7}}
		m.ints[k] = intsState{Total: 28, Count: 8, Max: 7, Last: [8]int64{0, 1, 2, 3, 4, 5, 6, 7}}
	}
	b.Run("slice", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, ok := m.readSlice("k42")
			if !ok || len(s.Last) != 8 {
				b.Fatalf("readSlice = %+v, %v", s, ok)
			}
		}
	})
	b.Run("ints", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, ok := m.readInts("k42")
			if !ok || s.Count != 8 {
				b.Fatalf("readInts = %+v, %v", s, ok)
			}
		}
	})
}
