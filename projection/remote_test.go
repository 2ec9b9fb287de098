package projection_test

import (
	"context"
	"iter"
	"sync"
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

// loadHeldStore holds the first Get of one key after reading it, until the
// test releases it, and lets the test drive the feed of other handles'
// commits, telling it when the runtime has handled each change.
type loadHeldStore struct {
	store.Store
	key     string
	once    sync.Once
	entered chan struct{} // closed when the first Get of key has read
	release chan struct{} // closed by the test to let it return
	feed    chan fedChange
}

// fedChange is a change and the channel closed once the runtime handled it.
type fedChange struct {
	c       store.Change
	handled chan struct{}
}

func (h *loadHeldStore) Get(ctx context.Context, bucket, key string) (store.Record, bool, error) {
	rec, ok, err := h.Store.Get(ctx, bucket, key)
	if key == h.key {
		first := false
		h.once.Do(func() { first = true })
		if first {
			close(h.entered)
			<-h.release
		}
	}
	return rec, ok, err
}

func (h *loadHeldStore) Changes(ctx context.Context) iter.Seq2[store.Change, error] {
	return func(yield func(store.Change, error) bool) {
		for {
			select {
			case f := <-h.feed:
				if !yield(f.c, nil) {
					return
				}
				close(f.handled)
			case <-ctx.Done():
				yield(store.Change{}, ctx.Err())
				return
			}
		}
	}
}

// tell hands c to the runtime and waits until it handled it.
func (h *loadHeldStore) tell(t *testing.T, c store.Change) {
	t.Helper()
	f := fedChange{c: c, handled: make(chan struct{})}
	h.feed <- f
	<-f.handled
}

// Ensure that another process's commit reported while a subscriber's resync
// is loading the key from the store is not lost, whether the feed names the
// key or resets: a load that read the record before that commit is not
// taken for the key's current state, and the subscriber receives the newer
// one.
func TestRuntime_Changes_CommitDuringLoad(t *testing.T) {
	for _, reset := range []bool{false, true} {
		t.Run(map[bool]string{false: "key", true: "reset"}[reset], func(t *testing.T) {
			e := newEnv(t)
			ctx := ctxT(t)
			held := &loadHeldStore{Store: e.store, key: "k", entered: make(chan struct{}),
				release: make(chan struct{}), feed: make(chan fedChange)}
			here, err := projection.New(held, e.bus, counter{})
			require.NoError(t, err)
			defer here.Close()
			there, err := projection.New(e.store, projectiontest.NewBus(t), counter{})
			require.NoError(t, err)

			v1, err := there.Apply(ctx, counterEvent{Key: "k", Delta: 1})
			require.NoError(t, err)
			sub, err := here.Subscribe(ctx, "k")
			require.NoError(t, err)
			defer sub.Close()
			// The subscriber resyncs: its load reads version 1 and is held.
			held.tell(t, store.Change{Bucket: "test.counter", Key: "k", Version: v1})
			<-held.entered
			v2, err := there.Apply(ctx, counterEvent{Key: "k", Delta: 10})
			require.NoError(t, err)
			second := store.Change{Bucket: "test.counter", Key: "k", Version: v2}
			if reset {
				second = store.Change{Reset: true}
			}
			held.tell(t, second)
			close(held.release)

			// A resync of version 1 may come first; version 2 must follow.
			u := next(t, sub)
			for u.Version < v2 {
				u = next(t, sub)
			}
			require.Equal(t, v2, u.Version)
			require.Equal(t, int64(11), u.State.Total)
		})
	}
}
