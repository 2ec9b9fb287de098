package projection_test

import (
	"sync"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// Ensure that ApplyBatch folds events per key in order, bumps each key's
// version by its number of events and publishes one delta per event after
// the commit.
func TestRuntime_ApplyBatch_FoldsPerKeyInOrder(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	_, err := rt.Apply(ctx, counterEvent{Key: "a", Delta: 100})
	require.NoError(t, err)
	sub, err := rt.SubscribeAll(ctx)
	require.NoError(t, err)
	defer sub.Close()

	batch := []counterEvent{{Key: "a", Delta: 1}, {Key: "b", Delta: 2}, {Key: "a", Delta: 3}, {Key: "c", Delta: 4}}
	require.NoError(t, rt.ApplyBatch(ctx, batch))
	for k, want := range map[string]struct {
		total   int64
		version uint64
	}{"a": {104, 3}, "b": {2, 1}, "c": {4, 1}} {
		snap, err := rt.ReadRequired(ctx, k)
		require.NoError(t, err)
		require.Equal(t, want.total, snap.State.Total, k)
		require.Equal(t, want.version, snap.Version, k)
	}
	got := map[string][]uint64{}
	for range batch {
		u := next(t, sub)
		got[u.Key] = append(got[u.Key], u.Version)
	}
	require.Equal(t, map[string][]uint64{"a": {2, 3}, "b": {1}, "c": {1}}, got)
	require.NoError(t, rt.ApplyBatch(ctx, nil))
}

// Ensure that a batch with a bad event changes nothing at all.
func TestRuntime_ApplyBatch_AllOrNothing(t *testing.T) {
	e := newEnv(t)
	rt, err := projection.New(e.store, e.bus, keyedPanicky{})
	require.NoError(t, err)
	ctx := ctxT(t)
	require.NoError(t, rt.ApplyBatch(ctx, []counterEvent{{Key: "a", Delta: 1}}))

	err = rt.ApplyBatch(ctx, []counterEvent{{Key: "a", Delta: 1}, {Key: "b", Delta: 1}, {Key: "b", Delta: -1}})
	require.ErrorIs(t, err, projection.ErrApplyPanic)
	err = rt.ApplyBatch(ctx, []counterEvent{{Key: "a", Delta: 1}, {Key: "bad\xffkey", Delta: 1}})
	require.ErrorIs(t, err, projection.ErrInvalidKey)

	snap, err := rt.ReadRequired(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, int64(1), snap.State.Total)
	require.Equal(t, uint64(1), snap.Version)
	_, ok, err := rt.Read(ctx, "b")
	require.NoError(t, err)
	require.False(t, ok)
}

// Ensure that a failed batch commit leaves every key of the batch as it was.
func TestRuntime_ApplyBatch_FailedCommitChangesNothing(t *testing.T) {
	e := newEnv(t)
	fs := newFaultStore(e.store, nil)
	rt, err := projection.New(fs, e.bus, counter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	require.NoError(t, rt.ApplyBatch(ctx, []counterEvent{{Key: "a", Delta: 1}, {Key: "b", Delta: 1}}))
	fs.failNext(1)
	err = rt.ApplyBatch(ctx, []counterEvent{{Key: "a", Delta: 5}, {Key: "b", Delta: 5}})
	require.ErrorIs(t, err, errInjected)
	for _, k := range []string{"a", "b"} {
		snap, err := rt.ReadRequired(ctx, k)
		require.NoError(t, err)
		require.Equal(t, int64(1), snap.State.Total)
		v, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
		require.NoError(t, err)
		require.Equal(t, uint64(2), v)
	}
}

// Ensure that batches and single applies on overlapping keys, run
// concurrently on a durable store, lose and double nothing.
func TestRuntime_ApplyBatch_ConcurrentWithApply(t *testing.T) {
	st, err := boltstore.Open(t.TempDir() + "/b.db")
	require.NoError(t, err)
	defer st.Close()
	rt, err := projection.New(st, nil, counter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	keys := []string{"x", "y", "z"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				if g%2 == 0 {
					batch := []counterEvent{{Key: keys[i%3], Delta: 1}, {Key: keys[(i+1)%3], Delta: 1}}
					require.NoError(t, rt.ApplyBatch(ctx, batch))
				} else {
					_, err := rt.Apply(ctx, counterEvent{Key: keys[i%3], Delta: 1})
					require.NoError(t, err)
				}
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, k := range keys {
		snap, err := rt.ReadRequired(ctx, k)
		require.NoError(t, err)
		require.Equal(t, uint64(snap.State.Total), snap.Version, "every event folded once")
		total += snap.State.Total
	}
	require.Equal(t, int64(4*10*2+4*10), total)
}

// Ensure that many producers on one hot key fold every event exactly once.
func TestRuntime_Apply_HotKeyManyProducers(t *testing.T) {
	st, err := boltstore.Open(t.TempDir() + "/h.db")
	require.NoError(t, err)
	defer st.Close()
	rt, err := projection.New(st, nil, counter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	const producers, each = 32, 20
	versions := make(chan uint64, producers*each)
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				v, err := rt.Apply(ctx, counterEvent{Delta: 1})
				require.NoError(t, err)
				versions <- v
			}
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[uint64]bool{}
	for v := range versions {
		require.False(t, seen[v], "version %d returned twice", v)
		seen[v] = true
	}
	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, int64(producers*each), snap.State.Total)
	require.Equal(t, uint64(producers*each), snap.Version)
}

type keyedPanicky struct{}

func (keyedPanicky) Name() string              { return "test.keyedpanicky" }
func (keyedPanicky) Key(e counterEvent) string { return e.Key }
func (keyedPanicky) Apply(s *counterState, e counterEvent) counterDelta {
	s.Total += e.Delta
	if e.Delta < 0 {
		panic("negative")
	}
	return counterDelta{NewTotal: s.Total}
}
