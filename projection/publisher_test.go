package projection_test

import (
	"sync/atomic"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
	"github.com/stretchr/testify/require"
)

// Ensure that a raw bus subscriber on a projection's channel cannot attach
// to the runtime's update path: an OnDrop that reads the runtime, one that
// panics, and a Block subscriber that never reads change nothing for
// commits, for applies on other keys, or for the runtime's own subscribers,
// which get every version in order.
func TestRuntime_Publish_RawBusSubscribersCannotInterfere(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	ctx := ctxT(t)
	var calls atomic.Int64
	for _, opt := range []pubsub.SubscribeOption{
		pubsub.OnDrop(func(string, projection.Update[counterState, counterDelta]) {
			calls.Add(1)
			_, _, _ = rt.Read(ctx, "default-key")
		}),
		pubsub.OnDrop(func(string, projection.Update[counterState, counterDelta]) {
			calls.Add(1)
			panic("subscriber bug")
		}),
	} {
		raw, err := pubsub.Subscribe[projection.Update[counterState, counterDelta]](ctx, e.bus, rt.Channel("default-key"),
			pubsub.WithBuffer(1), opt)
		require.NoError(t, err)
		defer raw.Close()
	}
	blocking, err := pubsub.Subscribe[projection.Update[counterState, counterDelta]](ctx, e.bus, "projection.>",
		pubsub.WithBuffer(1), pubsub.WithPolicy(pubsub.Block))
	require.NoError(t, err)
	defer blocking.Close()

	sub, err := rt.Subscribe(ctx, "default-key", projection.WithBuffer(16))
	require.NoError(t, err)
	defer sub.Close()
	for i := range 4 {
		_, err := rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err, "apply %d", i)
	}
	for i := range 6 {
		_, err := rt.Apply(ctx, counterEvent{Key: string(rune('a' + i)), Delta: 1})
		require.NoError(t, err)
	}
	for v := uint64(1); v <= 4; v++ {
		u := next(t, sub)
		require.Equal(t, projection.KindDelta, u.Kind)
		require.Equal(t, v, u.Version)
	}
	require.Zero(t, sub.Dropped())
	require.Zero(t, calls.Load(), "no raw subscriber's callback ran")
	require.Empty(t, raw(blocking), "raw subscribers receive nothing of the runtime's")
}

// raw drains what a raw subscription has buffered.
func raw[T any](s *pubsub.Subscription[T]) []T {
	var got []T
	for {
		select {
		case m := <-s.C():
			got = append(got, m)
		default:
			return got
		}
	}
}

// Ensure that a subscriber that never reads its channel delays no commit,
// whichever policy: applies on its key and others complete, and once it
// reads it gets a resync with the newest state.
func TestRuntime_Publish_StalledSubscriberDelaysNoCommit(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	ctx := ctxT(t)
	sub, err := rt.Subscribe(ctx, "default-key", projection.WithBuffer(1))
	require.NoError(t, err)
	defer sub.Close()
	for range 50 {
		_, err := rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err)
	}
	for {
		u := next(t, sub)
		if u.Version == 50 {
			require.Equal(t, int64(50), u.State.Total)
			break
		}
	}
}
