package projection_test

import (
	"slices"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// Ensure that Close lets an apply in flight finish durably, then refuses
// every call with ErrClosed and ends every subscription.
func TestRuntime_Close_WaitsThenRefuses(t *testing.T) {
	e := newEnv(t)
	fs := &faultStore{Store: e.store, submits: make(chan struct{}, 4)}
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
