package projection

import (
	"expvar"
	"sync/atomic"
)

// Stats is a snapshot of a Runtime's counters since New. Counters are read
// one by one without a common lock, so a snapshot taken while calls run may
// mix values from just before and just after one of them.
type Stats struct {
	Applies    uint64 // events folded and committed, through Apply and ApplyBatch
	Batches    uint64 // ApplyBatch calls committed
	Rebuilds   uint64 // Rebuild calls committed (deletions included)
	Duplicates uint64 // Positioned events skipped as already folded
	Failures   uint64 // Apply, ApplyBatch and Rebuild calls that returned an error
	// Retries counts folds done again because their commit met a version
	// the runtime did not expect: another writer changed the key, or an
	// apply they were folded on failed.
	Retries uint64
	// RebuildAlls counts RebuildAll calls that switched generations;
	// RebuildRunning says one runs now, and Generation is the current one.
	RebuildAlls    uint64
	RebuildRunning bool
	Generation     uint64
	// RebuildEvents and RebuildKeys are the events folded and keys seen by
	// the RebuildAll running now, or by the last one.
	RebuildEvents, RebuildKeys uint64

	CacheHits   uint64 // Apply, Read and resync lookups served from the cache
	CacheMisses uint64 // lookups that loaded the snapshot from the store
	CacheLen    int    // keys cached now
	LockedKeys  int    // keys whose lock is held or waited on now: the lock map's size

	Published     uint64 // updates published on the bus, for keys that had a subscriber
	Subscriptions int    // subscriptions live now
	Dropped       uint64 // updates that overflowed a subscription's buffer, over all subscriptions
	Resyncs       uint64 // KindResync updates sent to subscribers that fell behind
}

// counters are the runtime's atomic counters; cache hits, misses and length
// are counted per shard under the shard lock instead, to keep a hot read path
// off shared cache lines.
type counters struct {
	applies, batches, rebuilds, duplicates, failures, retries atomic.Uint64
	rebuildAlls, rebuildEvents, rebuildKeys                   atomic.Uint64
	rebuildRunning                                            atomic.Bool
	published, dropped, resyncs                               atomic.Uint64
}

// Stats returns the runtime's counters. It is safe to call at any time,
// also after Close.
func (r *Runtime[E, S, D]) Stats() Stats {
	s := Stats{
		Applies:        r.stats.applies.Load(),
		Batches:        r.stats.batches.Load(),
		Rebuilds:       r.stats.rebuilds.Load(),
		Duplicates:     r.stats.duplicates.Load(),
		Failures:       r.stats.failures.Load(),
		Retries:        r.stats.retries.Load(),
		RebuildAlls:    r.stats.rebuildAlls.Load(),
		RebuildRunning: r.stats.rebuildRunning.Load(),
		RebuildEvents:  r.stats.rebuildEvents.Load(),
		RebuildKeys:    r.stats.rebuildKeys.Load(),
		Published:      r.stats.published.Load(),
		Dropped:        r.stats.dropped.Load(),
		Resyncs:        r.stats.resyncs.Load(),
	}
	g := r.current()
	s.Generation = g.n
	for i := range g.cache.shards {
		sh := &g.cache.shards[i]
		sh.mu.Lock()
		s.CacheHits += sh.hits
		s.CacheMisses += sh.misses
		s.CacheLen += len(sh.m)
		sh.mu.Unlock()
	}
	s.LockedKeys = r.locks.Len()
	r.subs.mu.Lock()
	s.Subscriptions = len(r.subs.set)
	r.subs.mu.Unlock()
	return s
}

// Var returns an expvar.Var that reports Stats as JSON, so that publishing
// them is one line: expvar.Publish("livefold.stock", rt.Var()).
func (r *Runtime[E, S, D]) Var() expvar.Var {
	return expvar.Func(func() any { return r.Stats() })
}
