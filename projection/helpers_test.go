package projection_test

import (
	"context"
	"testing"
	"time"

	"github.com/livefold/livefold/store"
	"github.com/livefold/livefold/store/storetest"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/projectiontest"
	"github.com/livefold/livefold/pubsub"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counterEvent adds Delta to the total of Key ("default-key" when empty).
type counterEvent struct {
	Key   string
	Delta int64
}

type counterState struct{ Total int64 }

type counterDelta struct{ NewTotal int64 }

// counter is the seed's CounterProjection; keyed reads the key from events.
type counter struct{ name string }

func (c counter) Name() string {
	if c.name == "" {
		return "test.counter"
	}
	return c.name
}

func (counter) Key(e counterEvent) string {
	if e.Key == "" {
		return "default-key"
	}
	return e.Key
}

func (counter) Apply(s *counterState, e counterEvent) counterDelta {
	s.Total += e.Delta
	return counterDelta{NewTotal: s.Total}
}

// tagsState holds references, so the runtime must deep-copy it.
type tagsState struct {
	Tags  map[string]int
	Order []string
}

type tags struct{}

func (tags) Name() string              { return "test.tags" }
func (tags) Key(e counterEvent) string { return e.Key }
func (tags) Apply(s *tagsState, e counterEvent) int64 {
	if s.Tags == nil {
		s.Tags = map[string]int{}
	}
	tag := "t" + string(rune('a'+e.Delta%26))
	s.Tags[tag]++
	s.Order = append(s.Order, tag)
	return e.Delta
}

type env struct {
	path  string
	store *boltstore.Store
	bus   *pubsub.Bus
}

// newEnv opens a throw-away store and bus, closed when the test ends.
func newEnv(t testing.TB, opts ...boltstore.Option) *env {
	t.Helper()
	st := projectiontest.OpenStore(t, opts...)
	return &env{path: st.Path(), store: st, bus: projectiontest.NewBus(t)}
}

func newCounter(t testing.TB, e *env, opts ...projection.Option) *projection.Runtime[counterEvent, counterState, counterDelta] {
	t.Helper()
	rt, err := projection.New(e.store, e.bus, counter{}, opts...)
	require.NoError(t, err)
	return rt
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// next receives one update or fails the test after a generous timeout.
func next[S, D any](t testing.TB, sub *projection.Subscription[S, D]) projection.Update[S, D] {
	t.Helper()
	select {
	case u, ok := <-sub.C():
		require.True(t, ok, "subscription ended: %v", sub.Err())
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("no update within 10s")
		return projection.Update[S, D]{}
	}
}

// faultStore is storetest.Faulty with the shorthands these tests use.
type faultStore struct {
	*storetest.Faulty
	submits chan struct{} // if not nil, receives once per accepted submission
}

// newFaultStore wraps st; submits, if not nil, receives once per accepted
// submission.
func newFaultStore(st store.Store, submits chan struct{}) *faultStore {
	f := &faultStore{Faulty: storetest.NewFaulty(st), submits: submits}
	if submits != nil {
		f.NotifySubmit(submits)
	}
	return f
}

var errInjected = storetest.ErrInjected

// failNext makes the next n submissions fail with store.ErrCommit.
func (f *faultStore) failNext(n int) { f.FailNext(n) }

// holdNext makes the next submission's callback block until the returned
// release is called; started is closed once the callback is blocking.
func (f *faultStore) holdNext() (started <-chan struct{}, release func()) { return f.HoldNext() }
