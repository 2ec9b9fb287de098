package projection_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

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

// faultStore wraps a store and makes chosen commits fail: an armed Submit's
// writes get an impossible Expect, so the real store refuses them in commit
// order and nothing of them reaches the disk, and the failure is reported as
// store.ErrCommit. hold makes the next commit's
// callback wait for release, so that later submissions queue behind it.
type faultStore struct {
	store.Store
	mu      sync.Mutex
	failing int           // guarded by mu: how many next submissions fail
	hold    chan struct{} // guarded by mu: when set, the next callback waits for it to close
	held    chan struct{} // guarded by mu: closed when the held callback started
	submits chan struct{} // if not nil, receives once per accepted submission
}

var errInjected = errors.New("injected commit failure")

func (f *faultStore) failNext(n int) {
	f.mu.Lock()
	f.failing = n
	f.mu.Unlock()
}

// holdNext makes the next submission's callback block until the returned
// release is called; started is closed once the callback is blocking.
func (f *faultStore) holdNext() (started <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold, f.held = make(chan struct{}), make(chan struct{})
	h := f.hold
	var once sync.Once
	return f.held, func() { once.Do(func() { close(h) }) }
}

func (f *faultStore) Submit(ctx context.Context, writes []store.Write, done func(error)) error {
	f.mu.Lock()
	fail := f.failing > 0
	if fail {
		f.failing--
		ws := make([]store.Write, len(writes))
		copy(ws, writes)
		for i := range ws {
			ws[i].Expect, ws[i].Force = 1<<62, false
		}
		writes = ws
	}
	hold, held := f.hold, f.held
	f.hold, f.held = nil, nil
	f.mu.Unlock()
	inner := done
	if fail {
		inner = func(err error) {
			if err != nil && errors.Is(err, store.ErrConflict) {
				// The impossible Expect kept the writes out; report what
				// is simulated, a commit that failed as a whole.
				err = fmt.Errorf("%w: %w", store.ErrCommit, errInjected)
			}
			done(err)
		}
	}
	if hold != nil {
		wrapped := inner
		inner = func(err error) {
			close(held)
			<-hold
			wrapped(err)
		}
	}
	err := f.Store.Submit(ctx, writes, inner)
	if err == nil && f.submits != nil {
		f.submits <- struct{}{}
	}
	return err
}
