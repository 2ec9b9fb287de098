package projection_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/store"
	"github.com/stretchr/testify/require"
)

// Ensure that when a commit fails, that apply fails and changes nothing,
// the applies folded on top of it are folded again on the last committed
// state and succeed, each exactly once, and subscribers never see an update
// that was not committed.
func TestRuntime_Apply_FailedCommitRollsBackItsLineage(t *testing.T) {
	e := newEnv(t)
	fs := newFaultStore(e.store, make(chan struct{}, 16))
	rt, err := projection.New(fs, e.bus, counter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	sub, err := rt.Subscribe(ctx, "default-key")
	require.NoError(t, err)
	defer sub.Close()

	// A commits, but its callback holds the committer so that B, C and D
	// queue behind it, folded on the pending state.
	started, release := fs.holdNext()
	aDone := make(chan error, 1)
	go func() {
		_, err := rt.Apply(ctx, counterEvent{Delta: 1})
		aDone <- err
	}()
	<-started
	<-fs.submits

	fs.failNext(1) // B's commit fails
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		// Start them in order so each folds on the previous one.
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = rt.Apply(ctx, counterEvent{Delta: 10})
		}()
		<-fs.submits
	}
	release()
	require.NoError(t, <-aDone)
	wg.Wait()
	require.ErrorIs(t, errs[0], errInjected)
	require.ErrorIs(t, errs[0], store.ErrCommit)
	require.NoError(t, errs[1], "an apply folded on a failed commit is folded again")
	require.NoError(t, errs[2], "an apply folded on a failed commit is folded again")
	require.GreaterOrEqual(t, rt.Stats().Retries, uint64(2))

	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 21}, snap.State)
	require.Equal(t, uint64(3), snap.Version)

	v, err := rt.Apply(ctx, counterEvent{Delta: 100})
	require.NoError(t, err)
	require.Equal(t, uint64(4), v)

	// Subscribers saw exactly the committed updates, in version order.
	for i, want := range []int64{1, 11, 21, 121} {
		u := next(t, sub)
		require.Equal(t, uint64(i+1), u.Version)
		require.Equal(t, want, u.State.Total)
	}

	// And the disk agrees, read through a fresh runtime (no cache).
	fresh, err := projection.New(e.store, nil, counter{})
	require.NoError(t, err)
	snap, err = fresh.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 121}, snap.State)
	require.Equal(t, uint64(4), snap.Version)
}

// Ensure that an apply made while a rebuild commits builds on the rebuild's
// outcome: when the rebuild fails, the apply folds on the committed state,
// even though the rebuild would have given the key the version it had.
func TestRuntime_Rebuild_FailedCommitLeavesNothingToBuildOn(t *testing.T) {
	e := newEnv(t)
	fs := newFaultStore(e.store, make(chan struct{}, 16))
	rt, err := projection.New(fs, e.bus, counter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	for range 5 {
		_, err := rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err)
		<-fs.submits
	}
	started, release := fs.holdNext()
	defer release() // a failing test must not leave the committer held
	fs.failNext(1)
	rebuilt := make(chan error, 1)
	go func() {
		_, err := rt.Rebuild(ctx, "default-key", slices.Values([]counterEvent{
			{Delta: 100}, {Delta: 100}, {Delta: 100}, {Delta: 100}, {Delta: 100}}))
		rebuilt <- err
	}()
	<-started
	<-fs.submits // the rebuild's
	applied := make(chan error, 1)
	var version uint64
	go func() {
		var err error
		version, err = rt.Apply(ctx, counterEvent{Delta: 1})
		applied <- err
	}()
	// The apply must wait for the rebuild's outcome. An absence can only be
	// watched for a while: a fold on the pending rebuild submits within
	// microseconds, so 200ms catches it, and a pass never depends on timing.
	select {
	case <-fs.submits:
		t.Fatal("an apply was submitted while the rebuild it would build on was not durable")
	case <-time.After(200 * time.Millisecond):
	}
	release()
	require.Error(t, <-rebuilt)
	require.NoError(t, <-applied)
	require.Equal(t, uint64(6), version)
	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 6}, snap.State)
	v, err := rt.Apply(ctx, counterEvent{Delta: 1})
	require.NoError(t, err, "the key keeps working")
	require.Equal(t, uint64(7), v)
}
