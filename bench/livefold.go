package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// accounts is the benchmarked projection: the shared fold behind livefold's
// Projection interface.
type accounts struct{ folder }

func (accounts) Name() string       { return projectionName }
func (accounts) Key(e event) string { return e.Key }
func (a accounts) Apply(s *account, e event) int64 {
	return a.fold(s, e)
}

// livefoldSystem is a projection.Runtime over a durable boltstore, with a bus
// as an application would have one.
type livefoldSystem struct {
	store *boltstore.Store
	bus   *pubsub.Bus
	rt    *projection.Runtime[event, account, int64]

	replaced string // the bucket the last rebuildAll replaced

	// The counters at the previous note, and how many notes were taken.
	lastStore   boltstore.Stats
	lastRuntime projection.Stats
	notes       int
}

func openLivefold(path string, o openOptions) (system, error) {
	return openLivefoldWith(path, o)
}

// openLivefoldWith opens a livefold system whose store has extra options.
func openLivefoldWith(path string, o openOptions, storeOpts ...boltstore.Option) (system, error) {
	store, err := boltstore.Open(path, storeOpts...)
	if err != nil {
		return nil, err
	}
	var opts []projection.Option
	if o.cacheSize > 0 {
		opts = append(opts, projection.WithCacheSize(o.cacheSize))
	}
	bus := pubsub.New()
	rt, err := projection.New(store, bus, accounts{newFolder(o.stateBytes)}, opts...)
	if err != nil {
		bus.Close()
		return nil, errors.Join(err, store.Close())
	}
	return &livefoldSystem{store: store, bus: bus, rt: rt}, nil
}

func (l *livefoldSystem) apply(ctx context.Context, e event) error {
	_, err := l.rt.Apply(ctx, e)
	return err
}

func (l *livefoldSystem) applyBatch(ctx context.Context, events []event) error {
	return l.rt.ApplyBatch(ctx, events)
}

func (l *livefoldSystem) read(ctx context.Context, key string) (account, uint64, bool, error) {
	snap, ok, err := l.rt.Read(ctx, key)
	return snap.State, snap.Version, ok, err
}

func (l *livefoldSystem) rebuild(ctx context.Context, key string, events iter.Seq[event]) error {
	_, err := l.rt.Rebuild(ctx, key, events)
	return err
}

func (l *livefoldSystem) rebuildAll(ctx context.Context, events iter.Seq[event], memory, batch int) error {
	// The current generation is the largest bucket: the store holds only
	// this projection and one record of its own.
	buckets, err := l.store.Buckets(ctx)
	if err != nil {
		return err
	}
	l.replaced = ""
	most := 0
	for _, b := range buckets {
		if b.Keys > most {
			most, l.replaced = b.Keys, b.Name
		}
	}
	return l.rt.RebuildAll(ctx, events, projection.WithRebuildMemory(memory), projection.WithRebuildBatch(batch))
}

// waitReplaced waits until the bucket that was the largest when rebuildAll
// began, the generation it replaced, holds no record, looking every
// interval: RebuildAll returns at the switch and removes that generation in
// the background.
func (l *livefoldSystem) waitReplaced(ctx context.Context, interval time.Duration) error {
	if l.replaced == "" {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		empty := true
		for _, err := range l.store.Keys(ctx, l.replaced) {
			if err != nil {
				return err
			}
			empty = false
			break
		}
		if empty {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// syncs returns the store's durable commits: each is one synced frame of its
// log (or one transaction, without the log).
func (l *livefoldSystem) syncs() uint64 { return l.store.Stats().Commits }

// note reports the store's group commit since the previous note (or the
// open): how many requests shared one transaction and its fsync, and how
// long a commit took. Maxima are reported only for the first note, as the
// store keeps them since it was opened.
func (l *livefoldSystem) note(elapsed time.Duration) string {
	st, rs := l.store.Stats(), l.rt.Stats()
	prev, prevRS, first := l.lastStore, l.lastRuntime, l.notes == 0
	l.lastStore, l.lastRuntime = st, rs
	l.notes++

	commits := st.Commits - prev.Commits
	batches := st.Batches - prev.Batches
	checkpoints := st.Checkpoints - prev.Checkpoints
	// Means since the previous note, from the means since the open.
	meanCommit := spanMean(st.MeanCommitLatency, prev.MeanCommitLatency, st.Commits, prev.Commits)
	meanCheckpoint := spanMean(st.MeanCheckpoint, prev.MeanCheckpoint, st.Checkpoints, prev.Checkpoints)
	reqPerBatch := 0.0
	if batches > 0 {
		reqPerBatch = (st.MeanBatchRequests*float64(st.Batches) - prev.MeanBatchRequests*float64(prev.Batches)) / float64(batches)
	}
	maxOf := func(format string, v any) string {
		if !first {
			return ""
		}
		return fmt.Sprintf(format, v)
	}

	cache := fmt.Sprintf(", lock map %d keys, cache %d keys", rs.LockedKeys, rs.CacheLen)
	if checkpoints > 0 {
		cache = fmt.Sprintf(", %d checkpoints (%.1f ms%s)%s", checkpoints, ms(meanCheckpoint),
			maxOf(", max %.1f", ms(st.MaxCheckpoint)), cache)
	}
	// A RebuildAll starts a new generation with a new cache, whose counters
	// start again from zero.
	if rs.Generation != prevRS.Generation {
		prevRS.CacheHits, prevRS.CacheMisses = 0, 0
	}
	hits, misses := rs.CacheHits-prevRS.CacheHits, rs.CacheMisses-prevRS.CacheMisses
	if n := hits + misses; n > 0 {
		cache += fmt.Sprintf(", hits %.0f%%", 100*float64(hits)/float64(n))
	}
	if commits == 0 {
		return "no commits" + cache
	}
	// busy is the share of the run the committer spent inside transactions:
	// near 100% means commits (their fsync) were the bottleneck.
	busy := float64(commits) * float64(meanCommit) / float64(elapsed)
	return fmt.Sprintf("%.0f commits/s, %.1f req/commit%s, commit %.2f ms%s, committer busy %.0f%%%s",
		float64(commits)/elapsed.Seconds(), reqPerBatch, maxOf(" (max %d)", st.MaxBatchRequests),
		ms(meanCommit), maxOf(" (max %.1f)", ms(st.MaxCommitLatency)), 100*busy, cache)
}

// spanMean returns the mean over the events between two readings of a
// running mean: mean is over n events, prevMean over the first prevN.
func spanMean(mean, prevMean time.Duration, n, prevN uint64) time.Duration {
	if n <= prevN {
		return 0
	}
	return time.Duration((float64(mean)*float64(n) - float64(prevMean)*float64(prevN)) / float64(n-prevN))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (l *livefoldSystem) close() error {
	l.rt.Close()
	l.bus.Close()
	return l.store.Close()
}
