package projectiontest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/projectiontest"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type add struct {
	Key string
	N   int
}

type sum struct{}

func (sum) Name() string            { return "test.sum" }
func (sum) Key(e add) string        { return e.Key }
func (sum) Apply(s *int, e add) int { *s += e.N; return e.N }

func newRuntime(t *testing.T) *projection.Runtime[add, int, int] {
	rt, err := projection.New(projectiontest.OpenStore(t), projectiontest.NewBus(t), sum{})
	require.NoError(t, err)
	return rt
}

// Ensure that a Collector records updates in order and WaitVersion returns
// once the key reaches the version, without sleeping.
func TestCollector_WaitVersion(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	sub, err := rt.SubscribeAll(ctx)
	require.NoError(t, err)
	c := projectiontest.Collect(t, sub)
	go func() {
		for range 5 {
			if _, err := rt.Apply(ctx, add{"k", 2}); err != nil {
				panic(err)
			}
		}
	}()
	u := c.WaitVersion("k", 5)
	require.Equal(t, 10, u.State)
	got := c.Updates()
	require.Len(t, got, 5)
	for i, u := range got {
		require.Equal(t, uint64(i+1), u.Version)
	}
}

// Ensure that WaitVersion on a runtime waits for an apply made later.
func TestWaitVersion_WaitsForLaterApply(t *testing.T) {
	rt := newRuntime(t)
	ctx := context.Background()
	_, err := rt.Apply(ctx, add{"k", 1})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2 {
			if _, err := rt.Apply(ctx, add{"k", 1}); err != nil {
				panic(err)
			}
		}
	}()
	snap := projectiontest.WaitVersion[int, int](t, rt, "k", 3)
	require.Equal(t, 3, snap.State)
	require.Equal(t, uint64(3), snap.Version)
	<-done
}

// fatalRecorder is a testing.TB whose Fatalf records instead of stopping.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper()                           {}
func (f *fatalRecorder) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

// Ensure that WaitFor fails the test, rather than hanging, when the
// subscription ends before the awaited update.
func TestCollector_WaitFor_FailsWhenSubscriptionEnds(t *testing.T) {
	rt := newRuntime(t)
	sub, err := rt.Subscribe(context.Background(), "k")
	require.NoError(t, err)
	rec := &fatalRecorder{TB: t}
	c := projectiontest.Collect(rec, sub)
	sub.Close()
	c.WaitVersion("k", 1)
	require.Contains(t, rec.msg, "subscription ended")
}
