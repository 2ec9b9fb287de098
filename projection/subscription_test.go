package projection_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
	"github.com/stretchr/testify/require"
)

// Ensure that a key subscription receives one KindDelta per apply, in
// version order, carrying the delta and the state after it.
func TestRuntime_Subscribe_DeltasInVersionOrder(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	sub, err := rt.Subscribe(ctx, "default-key")
	require.NoError(t, err)
	defer sub.Close()
	other, err := rt.Subscribe(ctx, "other")
	require.NoError(t, err)
	defer other.Close()

	for i := range 10 {
		_, err := rt.Apply(ctx, counterEvent{Delta: int64(i)})
		require.NoError(t, err)
	}
	var total int64
	for i := range 10 {
		u := next(t, sub)
		total += int64(i)
		require.Equal(t, projection.Update[counterState, counterDelta]{
			Key: "default-key", Kind: projection.KindDelta, Version: uint64(i + 1),
			Delta: counterDelta{NewTotal: total}, State: counterState{Total: total},
		}, withoutSeq(u))
	}
	select {
	case u := <-other.C():
		t.Fatalf("subscription to another key got %+v", u)
	default:
	}
}

// withoutSeq drops the unexported ordering field so updates compare by value.
func withoutSeq[S, D any](u projection.Update[S, D]) projection.Update[S, D] {
	return projection.Update[S, D]{Key: u.Key, Kind: u.Kind, Version: u.Version, Delta: u.Delta, State: u.State}
}

// Ensure that SubscribeAll receives the updates of every key of its
// projection and none of another projection on the same bus.
func TestRuntime_SubscribeAll_EveryKey(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	rt2, err := projection.New(e.store, e.bus, counter{name: "test.other"})
	require.NoError(t, err)
	ctx := ctxT(t)
	sub, err := rt.SubscribeAll(ctx)
	require.NoError(t, err)
	defer sub.Close()
	_, err = rt2.Apply(ctx, counterEvent{Key: "a", Delta: 1})
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
		require.NoError(t, err)
	}
	for _, k := range []string{"a", "b", "c"} {
		u := next(t, sub)
		require.Equal(t, k, u.Key)
		require.Equal(t, uint64(1), u.Version)
	}
	_, err = rt.SubscribeAll(ctx, projection.WithSince(projection.Cursor{Version: 1}))
	require.ErrorIs(t, err, projection.ErrInvalidOption)
}

// Ensure that SubscribeAll with WithInitialState starts with every key's
// snapshot, in key order, and then gives each key exactly the deltas after
// its snapshot, while applies run on old and new keys.
func TestRuntime_SubscribeAll_InitialStateUnderConcurrentApplies(t *testing.T) {
	for round := range 10 {
		rt := newCounter(t, newEnv(t))
		ctx := ctxT(t)
		keys := []string{"a", "b", "c", "d"}
		for _, k := range keys[:3] {
			_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
			require.NoError(t, err)
		}
		const perKey = 30
		done := make(chan error, 1)
		go func() {
			for range perKey {
				for _, k := range keys {
					if _, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1}); err != nil {
						done <- err
						return
					}
				}
			}
			done <- nil
		}()
		sub, err := rt.SubscribeAll(ctx, projection.WithInitialState(), projection.WithBuffer(1000))
		require.NoError(t, err)

		last := map[string]uint64{}
		var resynced []string
		want := map[string]uint64{"a": perKey + 1, "b": perKey + 1, "c": perKey + 1, "d": perKey}
		for len(last) < len(want) || !reached(last, want) {
			u := next(t, sub)
			switch u.Kind {
			case projection.KindResync:
				require.NotContains(t, last, u.Key, "round %d: resync after a delta of %s", round, u.Key)
				resynced = append(resynced, u.Key)
			case projection.KindDelta:
				if prev, seen := last[u.Key]; seen {
					require.Equal(t, prev+1, u.Version, "round %d key %s: gap or duplicate", round, u.Key)
				}
			default:
				t.Fatalf("round %d: unexpected %v", round, u.Kind)
			}
			require.Equal(t, int64(u.Version), u.State.Total)
			last[u.Key] = u.Version
		}
		// a, b and c existed before; d may have been created before the
		// subscription listed the keys.
		require.Subset(t, resynced, []string{"a", "b", "c"}, "round %d", round)
		require.True(t, slices.IsSorted(resynced) && len(resynced) <= 4, "round %d: one resync per key, in key order: %v", round, resynced)
		require.NoError(t, <-done)
		require.Zero(t, sub.Dropped())
		sub.Close()
	}
}

func reached(last, want map[string]uint64) bool {
	for k, v := range want {
		if last[k] < v {
			return false
		}
	}
	return true
}

// Ensure that a subscriber that does not read never blocks applies, and that
// once it reads again it converges on the latest state through a resync,
// with versions that only grow.
func TestRuntime_Subscribe_SlowSubscriberConverges(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	sub, err := rt.Subscribe(ctx, "default-key", projection.WithBuffer(2))
	require.NoError(t, err)
	defer sub.Close()

	const n = 200
	applied := make(chan error, 1)
	go func() {
		for range n {
			if _, err := rt.Apply(ctx, counterEvent{Delta: 1}); err != nil {
				applied <- err
				return
			}
		}
		applied <- nil
	}()
	select {
	case err := <-applied:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("applies blocked behind a subscriber that does not read")
	}

	var last uint64
	sawResync := false
	for last < n {
		u := next(t, sub)
		require.Greater(t, u.Version, last, "versions must grow")
		require.Equal(t, int64(u.Version), u.State.Total, "state must match its version")
		sawResync = sawResync || u.Kind == projection.KindResync
		last = u.Version
	}
	require.True(t, sawResync, "a subscriber that fell behind gets a resync")
	require.NotZero(t, sub.Dropped())
}

// Ensure that WithInitialState starts with the current snapshot and then
// gives exactly the following deltas, with no gap and no duplicate, while
// applies run concurrently.
func TestRuntime_Subscribe_InitialStateUnderConcurrentApplies(t *testing.T) {
	for round := range 20 {
		rt := newCounter(t, newEnv(t))
		ctx := ctxT(t)
		const n = 100
		done := make(chan error, 1)
		started := make(chan struct{})
		go func() {
			for i := range n {
				if i == 10 {
					close(started)
				}
				if _, err := rt.Apply(ctx, counterEvent{Delta: 1}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		<-started
		sub, err := rt.Subscribe(ctx, "default-key", projection.WithInitialState(), projection.WithBuffer(4*n))
		require.NoError(t, err)
		first := next(t, sub)
		require.Equal(t, projection.KindResync, first.Kind, "round %d", round)
		require.Equal(t, int64(first.Version), first.State.Total)
		last := first.Version
		for last < n {
			u := next(t, sub)
			require.Equal(t, projection.KindDelta, u.Kind, "round %d", round)
			require.Equal(t, last+1, u.Version, "round %d: gap or duplicate", round)
			require.Equal(t, int64(u.Version), u.State.Total)
			last = u.Version
		}
		require.NoError(t, <-done)
		require.Zero(t, sub.Dropped())
		sub.Close()
	}
}

// Ensure that WithInitialState on a key without a snapshot starts with
// KindDeleted at version 0.
func TestRuntime_Subscribe_InitialStateOfAbsentKey(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	sub, err := rt.Subscribe(ctx, "nothing", projection.WithInitialState())
	require.NoError(t, err)
	defer sub.Close()
	u := next(t, sub)
	require.Equal(t, projection.KindDeleted, u.Kind)
	require.Equal(t, uint64(0), u.Version)
}

// Ensure that WithSince replays the missed updates when the history holds
// them all, and sends one resync otherwise; either way the subscriber then
// continues live. The history is kept once the runtime has had a
// subscriber, as a client that resumes had been one.
func TestRuntime_Subscribe_Since(t *testing.T) {
	rt := newCounter(t, newEnv(t), projection.WithHistory(4))
	ctx := ctxT(t)
	earlier, err := rt.Subscribe(ctx, "default-key")
	require.NoError(t, err)
	earlier.Close()
	for range 10 {
		_, err := rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err)
	}
	lin := lineageOf(t, rt, "default-key")

	t.Run("inside history", func(t *testing.T) {
		sub, err := rt.Subscribe(ctx, "default-key", projection.WithSince(projection.Cursor{Lineage: lin, Version: 7}))
		require.NoError(t, err)
		defer sub.Close()
		for v := uint64(8); v <= 10; v++ {
			u := next(t, sub)
			require.Equal(t, projection.KindDelta, u.Kind)
			require.Equal(t, v, u.Version)
			require.Equal(t, int64(v), u.State.Total)
		}
	})
	t.Run("outside history", func(t *testing.T) {
		sub, err := rt.Subscribe(ctx, "default-key", projection.WithSince(projection.Cursor{Lineage: lin, Version: 3}))
		require.NoError(t, err)
		defer sub.Close()
		u := next(t, sub)
		require.Equal(t, projection.KindResync, u.Kind)
		require.Equal(t, uint64(10), u.Version)
		require.Equal(t, int64(10), u.State.Total)
	})
	t.Run("up to date then live", func(t *testing.T) {
		sub, err := rt.Subscribe(ctx, "default-key", projection.WithSince(projection.Cursor{Lineage: lin, Version: 10}))
		require.NoError(t, err)
		defer sub.Close()
		_, err = rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err)
		u := next(t, sub)
		require.Equal(t, projection.KindDelta, u.Kind)
		require.Equal(t, uint64(11), u.Version)
	})
	t.Run("ahead of the store", func(t *testing.T) {
		sub, err := rt.Subscribe(ctx, "default-key", projection.WithSince(projection.Cursor{Lineage: lin, Version: 1000}))
		require.NoError(t, err)
		defer sub.Close()
		u := next(t, sub)
		require.Equal(t, projection.KindResync, u.Kind)
		require.Equal(t, uint64(11), u.Version)
	})
}

// Ensure that a subscription ends, closing C and saying why, in each way it
// can end.
func TestRuntime_Subscribe_Ending(t *testing.T) {
	ended := func(t *testing.T, sub *projection.Subscription[counterState, counterDelta]) {
		t.Helper()
		select {
		case _, ok := <-sub.C():
			require.False(t, ok)
		case <-time.After(10 * time.Second):
			t.Fatal("C not closed")
		}
		<-sub.Done()
	}
	t.Run("Close", func(t *testing.T) {
		rt := newCounter(t, newEnv(t))
		sub, err := rt.Subscribe(ctxT(t), "k")
		require.NoError(t, err)
		require.NoError(t, sub.Err())
		sub.Close()
		sub.Close()
		ended(t, sub)
		require.ErrorIs(t, sub.Err(), pubsub.ErrUnsubscribed)
	})
	t.Run("context", func(t *testing.T) {
		rt := newCounter(t, newEnv(t))
		ctx, cancel := context.WithCancel(context.Background())
		sub, err := rt.Subscribe(ctx, "k")
		require.NoError(t, err)
		cancel()
		ended(t, sub)
		require.ErrorIs(t, sub.Err(), context.Canceled)
	})
	t.Run("bus closed", func(t *testing.T) {
		e := newEnv(t)
		rt := newCounter(t, e)
		sub, err := rt.Subscribe(ctxT(t), "k")
		require.NoError(t, err)
		e.bus.Close()
		ended(t, sub)
		require.ErrorIs(t, sub.Err(), pubsub.ErrBusClosed)
		_, err = rt.Subscribe(ctxT(t), "k")
		require.ErrorIs(t, err, pubsub.ErrClosed)
		_, err = rt.Apply(ctxT(t), counterEvent{Key: "k", Delta: 1})
		require.NoError(t, err, "a closed bus does not stop applies")
	})
	t.Run("Close from the receive loop", func(t *testing.T) {
		rt := newCounter(t, newEnv(t))
		ctx := ctxT(t)
		sub, err := rt.Subscribe(ctx, "k")
		require.NoError(t, err)
		go func() {
			for range 5 {
				_, _ = rt.Apply(ctx, counterEvent{Key: "k", Delta: 1})
			}
		}()
		for range sub.C() {
			sub.Close()
		}
		require.ErrorIs(t, sub.Err(), pubsub.ErrUnsubscribed)
	})
	t.Run("no bus", func(t *testing.T) {
		e := newEnv(t)
		rt, err := projection.New(e.store, nil, counter{})
		require.NoError(t, err)
		_, err = rt.Subscribe(ctxT(t), "k")
		require.ErrorIs(t, err, projection.ErrNoBus)
		_, err = rt.Subscribe(ctxT(t), "a\xffb")
		require.ErrorIs(t, err, projection.ErrInvalidKey)
	})
}

// Ensure that with no history kept, a subscriber that arrives while an
// apply is between its fold and its commit still ends on the committed
// state.
func TestRuntime_Subscribe_ArrivesDuringCommitWithoutHistory(t *testing.T) {
	e := newEnv(t)
	fs := newFaultStore(e.store, make(chan struct{}, 4))
	rt, err := projection.New(fs, e.bus, counter{}, projection.WithHistory(0))
	require.NoError(t, err)
	ctx := ctxT(t)
	started, release := fs.holdNext()
	applied := make(chan error, 1)
	go func() {
		_, err := rt.Apply(ctx, counterEvent{Delta: 7})
		applied <- err
	}()
	<-started // folded with nobody listening, commit in progress
	sub, err := rt.Subscribe(ctx, "default-key", projection.WithInitialState())
	require.NoError(t, err)
	defer sub.Close()
	release()
	require.NoError(t, <-applied)
	var last projection.Update[counterState, counterDelta]
	for last.Version < 1 {
		last = next(t, sub)
	}
	require.Equal(t, uint64(1), last.Version)
	require.Equal(t, int64(7), last.State.Total)
}

// Ensure that a resume by version after a rebuild that gave the key a
// version it had before resyncs instead of trusting the version.
func TestRuntime_Subscribe_SinceAfterRebuildToSameVersion(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	for range 5 {
		_, err := rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err)
	}
	before := lineageOf(t, rt, "default-key")
	history := []counterEvent{{Delta: 100}, {Delta: 100}, {Delta: 100}, {Delta: 100}, {Delta: 100}}
	_, err := rt.Rebuild(ctx, "default-key", slices.Values(history))
	require.NoError(t, err)

	// A client that saw version 5 before the rebuild has Total 5; the key
	// is at version 5 again, with Total 500.
	sub, err := rt.Subscribe(ctx, "default-key", projection.WithSince(projection.Cursor{Lineage: before, Version: 5}))
	require.NoError(t, err)
	defer sub.Close()
	u := next(t, sub)
	require.Equal(t, projection.KindResync, u.Kind)
	require.Equal(t, uint64(5), u.Version)
	require.Equal(t, int64(500), u.State.Total)
}

// Ensure that a runtime that never had a subscriber keeps no history, and a
// resume by version then gets one resync with the current state.
func TestRuntime_Subscribe_SinceWithoutEarlierSubscriber(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	for range 5 {
		_, err := rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err)
	}
	sub, err := rt.Subscribe(ctx, "default-key", projection.WithSince(projection.Cursor{Lineage: lineageOf(t, rt, "default-key"), Version: 3}))
	require.NoError(t, err)
	defer sub.Close()
	u := next(t, sub)
	require.Equal(t, projection.KindResync, u.Kind)
	require.Equal(t, uint64(5), u.Version)
	require.Equal(t, int64(5), u.State.Total)
}

// lineageOf returns the lineage of key's committed snapshot.
func lineageOf[E, S, D any](t *testing.T, rt *projection.Runtime[E, S, D], key string) uint64 {
	t.Helper()
	snap, err := rt.ReadRequired(ctxT(t), key)
	require.NoError(t, err)
	require.NotZero(t, snap.Lineage)
	return snap.Lineage
}

// Ensure that SubscribeAll with WithInitialState works through a wrapper of
// the store, which forwards every method of the contract, and that opening
// such streams reads the committed view without folding the store's log into
// its file each time.
func TestRuntime_SubscribeAll_InitialStateThroughWrapperWithoutCheckpoints(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	rt, err := projection.New(newFaultStore(e.store, nil), e.bus, counter{})
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
		require.NoError(t, err)
	}
	before := e.store.Stats().Checkpoints
	for range 5 {
		sub, err := rt.SubscribeAll(ctx, projection.WithInitialState())
		require.NoError(t, err)
		var keys []string
		for range 3 {
			u := next(t, sub)
			require.Equal(t, projection.KindResync, u.Kind)
			keys = append(keys, u.Key)
		}
		require.Equal(t, []string{"a", "b", "c"}, keys)
		sub.Close()
	}
	require.Equal(t, before, e.store.Stats().Checkpoints, "opening a stream of every key checkpoints nothing")
}
