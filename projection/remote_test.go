package projection_test

import (
	"context"
	"iter"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/projectiontest"
	"github.com/livefold/livefold/store"
	"github.com/stretchr/testify/require"
)

// feedStore is a store whose feed of other handles' commits the test
// drives, as a database server's would be.
type feedStore struct {
	store.Store
	feed chan store.Change
}

func (f feedStore) Changes(ctx context.Context) iter.Seq2[store.Change, error] {
	return func(yield func(store.Change, error) bool) {
		for {
			select {
			case c := <-f.feed:
				if !yield(c, nil) {
					return
				}
			case <-ctx.Done():
				yield(store.Change{}, ctx.Err())
				return
			}
		}
	}
}

// Ensure that a runtime tells its subscribers about commits another process
// makes, as the store's feed reports them: a key's subscriber resyncs to the
// other's state, and after a feed reset every subscriber resyncs.
func TestRuntime_Changes_OtherProcessesCommits(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	feed := make(chan store.Change)
	here, err := projection.New(feedStore{Store: e.store, feed: feed}, e.bus, counter{})
	require.NoError(t, err)
	defer here.Close()
	// The other process: same data, a bus of its own.
	there, err := projection.New(e.store, projectiontest.NewBus(t), counter{})
	require.NoError(t, err)

	_, err = here.Apply(ctx, counterEvent{Key: "k", Delta: 1})
	require.NoError(t, err)
	sub, err := here.Subscribe(ctx, "k", projection.WithInitialState())
	require.NoError(t, err)
	defer sub.Close()
	all, err := here.SubscribeAll(ctx)
	require.NoError(t, err)
	defer all.Close()
	require.Equal(t, int64(1), next(t, sub).State.Total)

	v, err := there.Apply(ctx, counterEvent{Key: "k", Delta: 10})
	require.NoError(t, err)
	snap, err := there.ReadRequired(ctx, "k")
	require.NoError(t, err)
	feed <- store.Change{Bucket: "test.counter", Key: "k", Lineage: snap.Lineage, Version: v}
	u := next(t, sub)
	require.Equal(t, projection.KindResync, u.Kind)
	require.Equal(t, int64(11), u.State.Total)
	require.Equal(t, v, u.Version)
	got, err := here.ReadRequired(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, int64(11), got.State.Total, "Read sees the other's commit too")
	require.Equal(t, int64(11), next(t, all).State.Total)

	_, err = there.Apply(ctx, counterEvent{Key: "k", Delta: 100})
	require.NoError(t, err)
	feed <- store.Change{Reset: true}
	require.Equal(t, int64(111), next(t, sub).State.Total)
	require.Equal(t, int64(111), next(t, all).State.Total)
}
