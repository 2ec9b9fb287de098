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

// note reports the store's group commit: how many requests shared one
// transaction and its fsync, and how long a commit took.
func (l *livefoldSystem) note(elapsed time.Duration) string {
	st := l.store.Stats()
	rs := l.rt.Stats()
	cache := fmt.Sprintf(", lock map %d keys, cache %d keys", rs.LockedKeys, rs.CacheLen)
	if st.Checkpoints > 0 {
		cache = fmt.Sprintf(", %d checkpoints (%.1f ms, max %.1f)%s", st.Checkpoints,
			float64(st.MeanCheckpoint.Microseconds())/1000, float64(st.MaxCheckpoint.Microseconds())/1000, cache)
	}
	if n := rs.CacheHits + rs.CacheMisses; n > 0 {
		cache += fmt.Sprintf(", hits %.0f%%", 100*float64(rs.CacheHits)/float64(n))
	}
	if st.Commits == 0 {
		return "no commits" + cache
	}
	// busy is the share of the run the committer spent inside transactions:
	// near 100% means commits (their fsync) were the bottleneck.
	busy := float64(st.Commits) * float64(st.MeanCommitLatency) / float64(elapsed)
	return fmt.Sprintf("%.0f commits/s, %.1f req/commit (max %d), commit %.2f ms (max %.1f), committer busy %.0f%%%s",
		float64(st.Commits)/elapsed.Seconds(), st.MeanBatchRequests, st.MaxBatchRequests,
		float64(st.MeanCommitLatency.Microseconds())/1000, float64(st.MaxCommitLatency.Microseconds())/1000, 100*busy, cache)
}

func (l *livefoldSystem) close() error {
	l.rt.Close()
	l.bus.Close()
	return l.store.Close()
}
