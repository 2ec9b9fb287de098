package projection_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// Ensure that Close lets an apply in flight finish durably, then refuses
// every call with ErrClosed and ends every subscription.
func TestRuntime_Close_WaitsThenRefuses(t *testing.T) {
	e := newEnv(t)
	fs := newFaultStore(e.store, make(chan struct{}, 4))
	rt, err := projection.New(fs, e.bus, counter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	sub, err := rt.Subscribe(ctx, "default-key")
	require.NoError(t, err)

	started, release := fs.holdNext()
	applied := make(chan error, 1)
	go func() {
		_, err := rt.Apply(ctx, counterEvent{Delta: 3})
		applied <- err
	}()
	<-started
	closed := make(chan struct{})
	go func() {
		rt.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while an apply was in flight")
	case err := <-applied:
		t.Fatalf("apply finished while its commit was held: %v", err)
	default:
	}
	release()
	require.NoError(t, <-applied)
	<-closed

	_, err = rt.Apply(ctx, counterEvent{Delta: 1})
	require.ErrorIs(t, err, projection.ErrClosed)
	_, _, err = rt.Read(ctx, "default-key")
	require.ErrorIs(t, err, projection.ErrClosed)
	require.ErrorIs(t, rt.ApplyBatch(ctx, []counterEvent{{Delta: 1}}), projection.ErrClosed)
	_, err = rt.Rebuild(ctx, "default-key", slices.Values([]counterEvent{{Delta: 1}}))
	require.ErrorIs(t, err, projection.ErrClosed)
	_, err = rt.Subscribe(ctx, "default-key")
	require.ErrorIs(t, err, projection.ErrClosed)

	for range sub.C() {
	}
	require.ErrorIs(t, sub.Err(), projection.ErrClosed)
	rt.Close() // idempotent

	// The committed apply is on disk.
	fresh, err := projection.New(e.store, nil, counter{})
	require.NoError(t, err)
	snap, err := fresh.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, int64(3), snap.State.Total)
}

// Ensure that Stats counts what happened, and Var reports it as JSON.
func TestRuntime_Stats(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	sub, err := rt.Subscribe(ctx, "default-key", projection.WithBuffer(4))
	require.NoError(t, err)
	defer sub.Close()
	for range 3 {
		_, err := rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err)
	}
	for range 3 {
		next(t, sub) // updates are published after their commit returned
	}
	require.NoError(t, rt.ApplyBatch(ctx, []counterEvent{{Key: "a", Delta: 1}, {Key: "b", Delta: 1}}))
	_, err = rt.Rebuild(ctx, "a", slices.Values([]counterEvent{{Key: "a", Delta: 1}}))
	require.NoError(t, err)
	_, err = rt.Apply(ctx, counterEvent{Key: "bad\xffkey"})
	require.Error(t, err)
	_, _, err = rt.Read(ctx, "a")
	require.NoError(t, err)
	_, _, err = rt.Read(ctx, "never")
	require.NoError(t, err)

	s := rt.Stats()
	require.Equal(t, uint64(5), s.Applies)
	require.Equal(t, uint64(1), s.Batches)
	require.Equal(t, uint64(1), s.Rebuilds)
	require.Equal(t, uint64(1), s.Failures)
	require.Equal(t, 1, s.Subscriptions)
	require.Equal(t, uint64(3), s.Published, "only default-key has a subscriber")
	require.GreaterOrEqual(t, s.CacheHits, uint64(2))
	require.GreaterOrEqual(t, s.CacheMisses, uint64(4)) // first touch of default-key, a, b and never
	require.Equal(t, 4, s.CacheLen)
	require.Zero(t, s.LockedKeys, "no apply is running, so no key is locked")
	require.Zero(t, s.Dropped, "the subscriber read every update")

	var fromVar projection.Stats
	require.NoError(t, json.Unmarshal([]byte(rt.Var().String()), &fromVar))
	require.Equal(t, s.Applies, fromVar.Applies)
}

// Ensure that a subscription keeps the first reason it ended for, even when
// the runtime closes afterwards while its Err is being read.
func TestRuntime_Close_KeepsFirstSubscriptionReason(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := rt.Subscribe(ctx, "k")
	require.NoError(t, err)
	cancel()
	<-sub.Done()
	reading := make(chan error, 1)
	go func() { reading <- sub.Err() }()
	rt.Close()
	require.ErrorIs(t, <-reading, context.Canceled)
	require.ErrorIs(t, sub.Err(), context.Canceled)
}
