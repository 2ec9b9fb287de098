package projection_test

import (
	"context"
	"errors"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// Ensure the seed's integration scenario: five dispatches through the
// dispatcher give five delta updates.
func TestDispatch_FiveEventsFiveDeltas(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	d := projection.NewDispatcher()
	unregister := rt.Register(d)
	defer unregister()
	sub, err := rt.Subscribe(ctx, "default-key")
	require.NoError(t, err)
	defer sub.Close()
	for i := range 5 {
		require.NoError(t, projection.Dispatch(ctx, d, counterEvent{Delta: int64(i + 1)}))
	}
	for i := range 5 {
		u := next(t, sub)
		require.Equal(t, projection.KindDelta, u.Kind)
		require.Equal(t, uint64(i+1), u.Version)
	}
	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, int64(15), snap.State.Total)
}

// Ensure that registering a runtime twice applies each event once, and that
// unregistering stops it and may be repeated.
func TestRuntime_Register_TwiceIsOnceAndUnregisterStops(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	d := projection.NewDispatcher()
	u1 := rt.Register(d)
	u2 := rt.Register(d)
	require.NoError(t, projection.Dispatch(ctx, d, counterEvent{Delta: 1}))
	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, uint64(1), snap.Version, "registered twice must apply once")

	u1()
	u2()
	u1()
	require.NoError(t, projection.Dispatch(ctx, d, counterEvent{Delta: 1}))
	snap, err = rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, uint64(1), snap.Version, "unregistered runtime must not apply")
}

// Ensure that Dispatch runs every runtime registered for the event type in
// registration order, that one failure does not stop the others, and that
// the errors are joined and name their projection.
func TestDispatch_OrderAndJoinedErrors(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	d := projection.NewDispatcher()
	var order []string
	first, err := projection.New(e.store, nil, recording{name: "test.first", order: &order})
	require.NoError(t, err)
	failing, err := projection.New(e.store, nil, panicky{})
	require.NoError(t, err)
	last, err := projection.New(e.store, nil, recording{name: "test.last", order: &order})
	require.NoError(t, err)
	first.Register(d)
	failing.Register(d)
	last.Register(d)
	// Another event type is routed elsewhere.
	other, err := projection.New(e.store, nil, strCounter{})
	require.NoError(t, err)
	other.Register(d)

	err = projection.Dispatch(ctx, d, counterEvent{Delta: -1})
	require.ErrorIs(t, err, projection.ErrApplyPanic)
	require.Contains(t, err.Error(), "test.panicky")
	require.Equal(t, []string{"test.first", "test.last"}, order)

	require.NoError(t, projection.Dispatch(ctx, d, "x"))
	_, ok, err := other.Read(ctx, "x")
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, projection.Dispatch(ctx, d, 42), "no runtime for int is not an error")
}

// Ensure that a dispatch's context reaches the applies.
func TestDispatch_CancelledContext(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	d := projection.NewDispatcher()
	rt.Register(d)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := projection.Dispatch(ctx, d, counterEvent{Delta: 1})
	require.True(t, errors.Is(err, context.Canceled))
}

type recording struct {
	name  string
	order *[]string
}

func (r recording) Name() string            { return r.name }
func (recording) Key(e counterEvent) string { return "k" }
func (r recording) Apply(s *counterState, e counterEvent) counterDelta {
	*r.order = append(*r.order, r.name)
	return counterDelta{}
}

type strCounter struct{}

func (strCounter) Name() string                        { return "test.strings" }
func (strCounter) Key(e string) string                 { return e }
func (strCounter) Apply(s *counterState, _ string) int { s.Total++; return 1 }
