package projection_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// Ensure that rebuilding from three events equals applying them one by one.
func TestRuntime_Rebuild_EqualsSequentialApplies(t *testing.T) {
	events := []counterEvent{{Delta: 3}, {Delta: 5}, {Delta: 7}}
	a := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	for _, ev := range events {
		_, err := a.Apply(ctx, ev)
		require.NoError(t, err)
	}
	sa, err := a.ReadRequired(ctx, "default-key")
	require.NoError(t, err)

	b := newCounter(t, newEnv(t))
	state, err := b.Rebuild(ctx, "default-key", slices.Values(events))
	require.NoError(t, err)
	require.Equal(t, sa.State, state)
	require.Equal(t, int64(15), state.Total)
	sb, err := b.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, sa.State, sb.State)
	require.Equal(t, uint64(3), sb.Version)
}

// Ensure that a rebuild replaces an existing snapshot, resets its version to
// the number of events and publishes one KindRebuild update with the state.
func TestRuntime_Rebuild_ReplacesAndPublishes(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	for range 5 {
		_, err := rt.Apply(ctx, counterEvent{Delta: 100})
		require.NoError(t, err)
	}
	sub, err := rt.Subscribe(ctx, "default-key")
	require.NoError(t, err)
	defer sub.Close()

	state, err := rt.Rebuild(ctx, "default-key", slices.Values([]counterEvent{{Delta: 1}, {Delta: 2}}))
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 3}, state)

	u := next(t, sub)
	require.Equal(t, projection.KindRebuild, u.Kind)
	require.Equal(t, uint64(2), u.Version)
	require.Equal(t, counterState{Total: 3}, u.State)

	v, err := rt.Apply(ctx, counterEvent{Delta: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(3), v)
	u = next(t, sub)
	require.Equal(t, projection.KindDelta, u.Kind)
	require.Equal(t, uint64(3), u.Version)
	require.Equal(t, int64(4), u.State.Total)
}

// Ensure that an empty rebuild deletes the snapshot, returns the zero state
// and tells subscribers with a KindDeleted update.
func TestRuntime_Rebuild_EmptyDeletesAndPublishes(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	_, err := rt.Apply(ctx, counterEvent{Delta: 7})
	require.NoError(t, err)
	sub, err := rt.Subscribe(ctx, "default-key")
	require.NoError(t, err)
	defer sub.Close()

	state, err := rt.Rebuild(ctx, "default-key", slices.Values([]counterEvent(nil)))
	require.NoError(t, err)
	require.Equal(t, counterState{}, state)
	_, ok, err := rt.Read(ctx, "default-key")
	require.NoError(t, err)
	require.False(t, ok, "snapshot should be deleted")

	u := next(t, sub)
	require.Equal(t, projection.KindDeleted, u.Kind)
	require.Equal(t, uint64(0), u.Version)

	v, err := rt.Apply(ctx, counterEvent{Delta: 2})
	require.NoError(t, err)
	require.Equal(t, uint64(1), v, "a deleted key starts again at version 1")
}

// Ensure that an event of another key fails the rebuild and changes nothing.
func TestRuntime_Rebuild_KeyMismatchChangesNothing(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	_, err := rt.Apply(ctx, counterEvent{Key: "a", Delta: 7})
	require.NoError(t, err)
	_, err = rt.Rebuild(ctx, "a", slices.Values([]counterEvent{{Key: "a", Delta: 1}, {Key: "b", Delta: 1}}))
	require.ErrorIs(t, err, projection.ErrKeyMismatch)
	snap, err := rt.ReadRequired(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 7}, snap.State)
	require.Equal(t, uint64(1), snap.Version)
	_, ok, err := rt.Read(ctx, "b")
	require.NoError(t, err)
	require.False(t, ok)
}

// Ensure that a panicking fold fails the rebuild and changes nothing.
func TestRuntime_Rebuild_PanicChangesNothing(t *testing.T) {
	e := newEnv(t)
	rt, err := projection.New(e.store, e.bus, panicky{})
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = rt.Apply(ctx, counterEvent{Delta: 4})
	require.NoError(t, err)
	_, err = rt.Rebuild(ctx, "k", slices.Values([]counterEvent{{Delta: 1}, {Delta: -1}}))
	require.ErrorIs(t, err, projection.ErrApplyPanic)
	snap, err := rt.ReadRequired(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, int64(4), snap.State.Total)
	require.Equal(t, uint64(1), snap.Version)
}

// Ensure the seed's properties: applying events one by one equals
// rebuilding from them, folding is deterministic, and keys are independent.
func TestRuntime_Rebuild_PropertyApplyEqualsRebuild(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	e := newEnv(t)
	applied := newCounter(t, e)
	rebuilt, err := projection.New(e.store, nil, counter{name: "test.rebuilt"})
	require.NoError(t, err)
	ctx := ctxT(t)
	history := map[string][]counterEvent{}
	for round := range 30 {
		n := rng.IntN(20)
		perKey := map[string][]counterEvent{}
		for range n {
			k := "k" + string(rune('a'+rng.IntN(3)))
			ev := counterEvent{Key: k, Delta: rng.Int64N(2000) - 1000}
			perKey[k] = append(perKey[k], ev)
			_, err := applied.Apply(ctx, ev)
			require.NoError(t, err)
		}
		for k, evs := range perKey {
			snapA, err := applied.ReadRequired(ctx, k)
			require.NoError(t, err)
			// Rebuild from the key's full history so far.
			all := append([]counterEvent(nil), history[k]...)
			all = append(all, evs...)
			history[k] = all
			state, err := rebuilt.Rebuild(ctx, k, slices.Values(all))
			require.NoError(t, err, "round %d", round)
			require.Equal(t, snapA.State, state, "round %d key %s", round, k)
			snapB, err := rebuilt.ReadRequired(ctx, k)
			require.NoError(t, err)
			require.Equal(t, snapA.Version, snapB.Version)
		}
	}
}
