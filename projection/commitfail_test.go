package projection_test

import (
	"sync"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// Ensure that when a commit fails, every apply folded on top of it fails
// too, the key returns to its last committed state in memory and on disk,
// and subscribers never see an update that was not committed.
func TestRuntime_Apply_FailedCommitRollsBackItsLineage(t *testing.T) {
	e := newEnv(t)
	fs := &faultStore{Store: e.store, submits: make(chan struct{}, 16)}
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
	for i, err := range errs {
		require.Error(t, err, "apply %d folded on a failed commit must fail", i)
	}
	require.ErrorIs(t, errs[0], errInjected)
	require.ErrorIs(t, errs[1], projection.ErrAborted)
	require.ErrorIs(t, errs[2], projection.ErrAborted)

	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 1}, snap.State)
	require.Equal(t, uint64(1), snap.Version)

	// The next apply folds on the committed state.
	v, err := rt.Apply(ctx, counterEvent{Delta: 100})
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)

	// Subscribers saw exactly the committed updates.
	u := next(t, sub)
	require.Equal(t, uint64(1), u.Version)
	require.Equal(t, int64(1), u.State.Total)
	u = next(t, sub)
	require.Equal(t, uint64(2), u.Version)
	require.Equal(t, int64(101), u.State.Total)

	// And the disk agrees, read through a fresh runtime (no cache).
	fresh, err := projection.New(e.store, nil, counter{})
	require.NoError(t, err)
	snap, err = fresh.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 101}, snap.State)
	require.Equal(t, uint64(2), snap.Version)
}
