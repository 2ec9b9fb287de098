package projection_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
	"github.com/stretchr/testify/require"
)

// cloneBomb panics in Clone while armed.
type cloneBomb struct {
	Items []int
	armed *atomic.Bool
}

func (c cloneBomb) Clone() cloneBomb {
	if c.armed != nil && c.armed.Load() {
		panic("clone exploded")
	}
	return cloneBomb{Items: append([]int(nil), c.Items...), armed: c.armed}
}

type bombs struct{ armed *atomic.Bool }

func (bombs) Name() string              { return "test.bombs" }
func (bombs) Key(e counterEvent) string { return e.Key }
func (b bombs) Apply(s *cloneBomb, e counterEvent) int {
	s.armed = b.armed
	s.Items = append(s.Items, int(e.Delta))
	return len(s.Items)
}

// Ensure that a state's Clone that panics is reported as ErrApplyPanic and
// leaves no lock held: the same and other keys keep working.
func TestRuntime_Clone_PanicLeavesNoLockHeld(t *testing.T) {
	e := newEnv(t)
	armed := &atomic.Bool{}
	rt, err := projection.New(e.store, nil, bombs{armed: armed})
	require.NoError(t, err)
	ctx := ctxT(t)
	for _, k := range []string{"a", "b"} {
		_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
		require.NoError(t, err)
	}
	armed.Store(true)
	_, _, err = rt.Read(ctx, "a")
	require.ErrorIs(t, err, projection.ErrApplyPanic)
	_, err = rt.Apply(ctx, counterEvent{Key: "a", Delta: 2})
	require.ErrorIs(t, err, projection.ErrApplyPanic)
	armed.Store(false)
	for _, k := range []string{"a", "b"} {
		v, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 3})
		require.NoError(t, err, k)
		require.Equal(t, uint64(2), v, k)
		snap, err := rt.ReadRequired(ctx, k)
		require.NoError(t, err)
		require.Equal(t, []int{1, 3}, snap.State.Items)
	}
}

// badPosition panics in StreamPosition.
type badPosition struct{ Key string }

func (badPosition) StreamPosition() uint64 { panic("no position") }

type badPositions struct{}

func (badPositions) Name() string                             { return "test.badpos" }
func (badPositions) Key(e badPosition) string                 { return e.Key }
func (badPositions) Apply(s *counterState, _ badPosition) int { s.Total++; return 1 }

// Ensure that a panicking StreamPosition fails the apply with ErrApplyPanic
// and releases the key.
func TestRuntime_Apply_PanickingPositionReleasesKey(t *testing.T) {
	rt, err := projection.New(newEnv(t).store, nil, badPositions{})
	require.NoError(t, err)
	ctx := ctxT(t)
	for range 2 { // the second would hang if the first kept the key locked
		_, err := rt.Apply(ctx, badPosition{Key: "k"})
		require.ErrorIs(t, err, projection.ErrApplyPanic)
	}
}

// Ensure that a raw bus subscriber whose OnDrop panics, run inside the
// runtime's publish, neither hangs applies nor loses commits.
func TestRuntime_Apply_PanickingBusSubscriberHangsNothing(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	ctx := ctxT(t)
	sub, err := pubsub.Subscribe[projection.Update[counterState, counterDelta]](context.Background(), e.bus,
		rt.Channel("default-key"), pubsub.WithBuffer(1), pubsub.WithPolicy(pubsub.DropNewest),
		pubsub.OnDrop(func(string, projection.Update[counterState, counterDelta]) { panic("subscriber exploded") }))
	require.NoError(t, err)
	defer sub.Close()
	for i := range 4 { // the buffer of 1 overflows from the second on
		v, err := rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), v)
	}
	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, int64(4), snap.State.Total)
}
