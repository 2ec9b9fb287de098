package projection_test

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
	"github.com/stretchr/testify/require"
)

// history returns events of keys k0..k(n-1), rounds events each, in an
// order that interleaves the keys.
func history(keys, rounds int) []counterEvent {
	var evs []counterEvent
	for r := range rounds {
		for k := range keys {
			evs = append(evs, counterEvent{Key: fmt.Sprintf("k%d", k), Delta: int64(r + 1)})
		}
	}
	return evs
}

// totals folds evs into each key's total.
func totals(evs []counterEvent) map[string]int64 {
	m := map[string]int64{}
	for _, e := range evs {
		m[e.Key] += e.Delta
	}
	return m
}

// requireTotals checks every key of want, and that nothing else is stored.
func requireTotals(t *testing.T, rt *projection.Runtime[counterEvent, counterState, counterDelta], want map[string]int64, gone ...string) {
	t.Helper()
	ctx := ctxT(t)
	for k, total := range want {
		snap, err := rt.ReadRequired(ctx, k)
		require.NoError(t, err, "key %s", k)
		require.Equal(t, total, snap.State.Total, "key %s", k)
	}
	for _, k := range gone {
		_, ok, err := rt.Read(ctx, k)
		require.NoError(t, err)
		require.False(t, ok, "key %s is not in the new generation", k)
	}
}

// Ensure that RebuildAll replaces every key's state with the fold of the
// source, removes keys the source lacks, survives a restart, and keeps
// memory bounded (a memory of 3 states over 50 keys).
func TestRuntime_RebuildAll_ReplacesEveryKey(t *testing.T) {
	s := newCounterServer(t)
	ctx := ctxT(t)
	for _, k := range []string{"k0", "k1", "stale"} {
		_, err := s.rt.Apply(ctx, counterEvent{Key: k, Delta: 1000})
		require.NoError(t, err)
	}
	src := history(50, 4)
	var reports []projection.RebuildProgress
	require.NoError(t, s.rt.RebuildAll(ctx, slices.Values(src), projection.WithRebuildMemory(3), projection.WithRebuildBatch(7),
		projection.WithProgress(func(p projection.RebuildProgress) { reports = append(reports, p) }, time.Hour)))
	require.NotEmpty(t, reports)
	last := reports[len(reports)-1]
	require.True(t, last.Switched)
	require.Equal(t, uint64(len(src)), last.Events)
	require.Equal(t, uint64(50), last.Keys)
	require.Equal(t, uint64(len(src)), s.rt.Stats().RebuildEvents)
	requireTotals(t, s.rt, totals(src), "stale")
	require.Equal(t, uint64(1), s.rt.Stats().Generation)
	require.Equal(t, uint64(1), s.rt.Stats().RebuildAlls)
	snap, err := s.rt.ReadRequired(ctx, "k3")
	require.NoError(t, err)
	require.Equal(t, uint64(4), snap.Version, "versions count the events folded in the new generation")

	v, err := s.rt.Apply(ctx, counterEvent{Key: "k3", Delta: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(5), v)
	s.restart()
	want := totals(src)
	want["k3"]++
	requireTotals(t, s.rt, want, "stale")
	require.Equal(t, uint64(1), s.rt.Stats().Generation)
}

// Ensure that a key whose state left memory folds on that state when it
// comes back, whether its write is queued, submitted but not yet settled, or
// committed, for memories and batches small and large next to the key space.
func TestRuntime_RebuildAll_EvictedKeysComeBack(t *testing.T) {
	for _, tc := range []struct{ keys, rounds, memory, batch int }{
		{keys: 10, rounds: 6, memory: 1, batch: 1},
		{keys: 10, rounds: 6, memory: 3, batch: 2},
		{keys: 7, rounds: 9, memory: 2, batch: 3},
		{keys: 40, rounds: 5, memory: 5, batch: 4},
		{keys: 40, rounds: 5, memory: 39, batch: 1},
	} {
		t.Run(fmt.Sprintf("keys=%d,memory=%d,batch=%d", tc.keys, tc.memory, tc.batch), func(t *testing.T) {
			s := newCounterServer(t)
			ctx := ctxT(t)
			src := history(tc.keys, tc.rounds)
			require.NoError(t, s.rt.RebuildAll(ctx, slices.Values(src),
				projection.WithRebuildMemory(tc.memory), projection.WithRebuildBatch(tc.batch)))
			requireTotals(t, s.rt, totals(src))
			for k := range totals(src) {
				snap, err := s.rt.ReadRequired(ctx, k)
				require.NoError(t, err)
				require.Equal(t, uint64(tc.rounds), snap.Version, "key %s", k)
			}
		})
	}
}

// Ensure that events applied while RebuildAll runs are folded into the new
// generation after the source's, so that no event is lost: each key ends at
// the fold of its source events and of its events applied meanwhile.
func TestRuntime_RebuildAll_LiveTrafficIsKept(t *testing.T) {
	s := newCounterServer(t)
	ctx := ctxT(t)
	src := history(20, 5)
	half := make(chan struct{})
	cont := make(chan struct{})
	source := func(yield func(counterEvent) bool) {
		for i, e := range src {
			if i == len(src)/2 {
				close(half)
				<-cont
			}
			if !yield(e) {
				return
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.rt.RebuildAll(ctx, source, projection.WithRebuildMemory(4)) }()
	<-half
	live := history(25, 3) // k20..k24 exist only through live traffic
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(live); i += 4 {
				if _, err := s.rt.Apply(ctx, live[i]); !assertNoError(t, err) {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, s.rt.ApplyBatch(ctx, []counterEvent{{Key: "k0", Delta: 7}, {Key: "k1", Delta: 7}}))
	close(cont)
	require.NoError(t, <-done)

	want := totals(append(append(slices.Clone(src), live...), counterEvent{Key: "k0", Delta: 7}, counterEvent{Key: "k1", Delta: 7}))
	requireTotals(t, s.rt, want)
	// Applies go on after the switch.
	_, err := s.rt.Apply(ctx, counterEvent{Key: "k0", Delta: 1})
	require.NoError(t, err)
	want["k0"]++
	requireTotals(t, s.rt, want)
}

// Ensure that subscribers hear of the switch: a key's subscriber gets one
// KindRebuild with the new state, a subscriber of every key gets one per
// key and a KindDeleted for a key gone, and a resume cursor from before the
// switch resyncs.
func TestRuntime_RebuildAll_Subscribers(t *testing.T) {
	s := newCounterServer(t)
	ctx := ctxT(t)
	for _, e := range []counterEvent{{Key: "a", Delta: 1}, {Key: "b", Delta: 1}, {Key: "gone", Delta: 1}} {
		_, err := s.rt.Apply(ctx, e)
		require.NoError(t, err)
	}
	before, err := s.rt.ReadRequired(ctx, "a")
	require.NoError(t, err)
	one, err := s.rt.Subscribe(ctx, "a")
	require.NoError(t, err)
	defer one.Close()
	all, err := s.rt.SubscribeAll(ctx, projection.WithBuffer(64))
	require.NoError(t, err)
	defer all.Close()

	src := []counterEvent{{Key: "a", Delta: 10}, {Key: "b", Delta: 20}, {Key: "new", Delta: 30}}
	require.NoError(t, s.rt.RebuildAll(ctx, slices.Values(src)))

	u := next(t, one)
	require.Equal(t, projection.KindRebuild, u.Kind)
	require.Equal(t, int64(10), u.State.Total)
	require.NotEqual(t, before.Lineage, u.Lineage)

	got := map[string]projection.Kind{}
	totalsSeen := map[string]int64{}
	for len(got) < 4 {
		u := next(t, all)
		got[u.Key] = u.Kind
		totalsSeen[u.Key] = u.State.Total
	}
	require.Equal(t, map[string]projection.Kind{"a": projection.KindRebuild, "b": projection.KindRebuild,
		"new": projection.KindRebuild, "gone": projection.KindDeleted}, got)
	require.Equal(t, int64(20), totalsSeen["b"])

	resumed, err := s.rt.Subscribe(ctx, "a", projection.WithSince(before.Cursor()))
	require.NoError(t, err)
	defer resumed.Close()
	u = next(t, resumed)
	require.Equal(t, projection.KindResync, u.Kind, "a cursor from before the switch resyncs")
	require.Equal(t, int64(10), u.State.Total)
}

// Ensure that a RebuildAll that fails part-way (its context ends, a fold
// panics, an event has an invalid key) changes nothing, keeps what was
// applied meanwhile, and leaves no partial generation behind.
func TestRuntime_RebuildAll_FailureChangesNothing(t *testing.T) {
	cases := []struct {
		name string
		want error
		bad  func(cancel context.CancelFunc) iter.Seq[counterEvent]
	}{
		{"cancelled", context.Canceled, func(cancel context.CancelFunc) iter.Seq[counterEvent] {
			return func(yield func(counterEvent) bool) {
				for i, e := range history(10, 300) {
					if i == 1500 {
						cancel()
					}
					if !yield(e) {
						return
					}
				}
			}
		}},
		{"panicking fold", projection.ErrApplyPanic, func(context.CancelFunc) iter.Seq[counterEvent] {
			return slices.Values(append(history(10, 3), counterEvent{Key: "k1", Delta: -1}))
		}},
		{"invalid key", projection.ErrInvalidKey, func(context.CancelFunc) iter.Seq[counterEvent] {
			return slices.Values(append(history(10, 3), counterEvent{Key: "bad\xff"}))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rt, err := projection.New(e.store, e.bus, failing{})
			require.NoError(t, err)
			ctx := ctxT(t)
			for _, ev := range history(3, 2) {
				_, err := rt.Apply(ctx, ev)
				require.NoError(t, err)
			}
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			err = rt.RebuildAll(rctx, tc.bad(cancel), projection.WithRebuildMemory(2))
			require.ErrorIs(t, err, tc.want)
			for k, total := range totals(history(3, 2)) {
				snap, err := rt.ReadRequired(ctx, k)
				require.NoError(t, err)
				require.Equal(t, total, snap.State.Total)
			}
			require.Zero(t, rt.Stats().Generation)
			for k, err := range e.store.Keys(ctx, failing{}.Name()+" #1") {
				require.NoError(t, err)
				t.Fatalf("key %q of the partial generation was left behind", k)
			}
			// The runtime keeps working, and a later RebuildAll succeeds.
			_, err = rt.Apply(ctx, counterEvent{Key: "k0", Delta: 1})
			require.NoError(t, err)
			require.NoError(t, rt.RebuildAll(ctx, slices.Values(history(2, 1))))
			require.NotZero(t, rt.Stats().Generation)
		})
	}
}

// failing is a counter whose Apply panics on a negative delta.
type failing struct{ counter }

func (failing) Name() string { return "test.failing" }
func (f failing) Apply(s *counterState, e counterEvent) counterDelta {
	if e.Delta < 0 {
		panic("negative delta")
	}
	return f.counter.Apply(s, e)
}

// Ensure that a second RebuildAll while one runs is refused.
func TestRuntime_RebuildAll_OneAtATime(t *testing.T) {
	s := newCounterServer(t)
	ctx := ctxT(t)
	started, cont := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.rt.RebuildAll(ctx, func(yield func(counterEvent) bool) {
			close(started)
			<-cont
			yield(counterEvent{Key: "a", Delta: 1})
		})
	}()
	<-started
	err := s.rt.RebuildAll(ctx, slices.Values([]counterEvent{{Key: "b"}}))
	require.ErrorIs(t, err, projection.ErrRebuildRunning)
	close(cont)
	require.NoError(t, <-done)
}

// revised is a counter whose code declares a revision.
type revised struct {
	counter
	rev string
}

func (r revised) Revision() string { return r.rev }

// Ensure that a change of the code's revision is seen at New, across a
// restart, and that WithRebuildOnRevisionChange rebuilds in the background
// and records the new revision.
func TestRuntime_RebuildAll_RevisionChange(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	v1, err := projection.New(e.store, nil, revised{rev: "v1"})
	require.NoError(t, err)
	code, stored := v1.Revision()
	require.Equal(t, "v1", code)
	require.Empty(t, stored, "nothing was built by any revision yet")
	require.NoError(t, v1.RebuildAll(ctx, slices.Values([]counterEvent{{Delta: 1}})))
	_, stored = v1.Revision()
	require.Equal(t, "v1", stored)
	v1.Close()

	src := []counterEvent{{Delta: 5}, {Delta: 5}}
	v2, err := projection.New(e.store, nil, revised{rev: "v2"},
		projection.WithRebuildOnRevisionChange(func(context.Context) iter.Seq[counterEvent] { return slices.Values(src) }))
	require.NoError(t, err)
	defer v2.Close()
	projectiontestWait(t, func() bool { _, s := v2.Revision(); return s == "v2" })
	snap, err := v2.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, int64(10), snap.State.Total)

	again, err := projection.New(e.store, nil, revised{rev: "v2"})
	require.NoError(t, err)
	code, stored = again.Revision()
	require.Equal(t, code, stored, "the revision survives a restart")
}

// projectiontestWait polls cond until it holds, failing after a while.
func projectiontestWait(t *testing.T, cond func() bool) {
	t.Helper()
	ctx := ctxT(t)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met in time")
		case <-tick.C:
		}
	}
}

// counterServer is a counter runtime on a file it can restart.
type counterServer struct {
	t     *testing.T
	path  string
	store *boltstore.Store
	bus   *pubsub.Bus
	rt    *projection.Runtime[counterEvent, counterState, counterDelta]
}

func newCounterServer(t *testing.T) *counterServer {
	s := &counterServer{t: t, path: filepath.Join(t.TempDir(), "counter.db")}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *counterServer) start() {
	s.store = openAt(s.t, s.path)
	s.bus = pubsub.New()
	rt, err := projection.New(s.store, s.bus, counter{})
	require.NoError(s.t, err)
	s.rt = rt
}

func (s *counterServer) stop() {
	if s.rt == nil {
		return
	}
	s.rt.Close()
	s.bus.Close()
	require.NoError(s.t, s.store.Close())
	s.rt = nil
}

func (s *counterServer) restart() { s.stop(); s.start() }

// Ensure that the projection's first generation, left behind when its
// removal after the first RebuildAll does not complete (as when the process
// stops), is removed by the next New: its record names it although its
// number is 0.
func TestRuntime_RebuildAll_FirstGenerationLeftIsRemovedByNew(t *testing.T) {
	e := newEnv(t)
	fs := newFaultStore(e.store, nil)
	ctx := ctxT(t)
	rt, err := projection.New(fs, nil, counter{})
	require.NoError(t, err)
	for _, k := range []string{"a", "b"} {
		_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
		require.NoError(t, err)
	}
	// The switch is reported before the removal starts: its first request
	// fails.
	removal := make(chan struct{}, 1)
	failRemoval := projection.WithProgress(func(p projection.RebuildProgress) {
		if p.Switched {
			fs.failNext(1)
			fs.NotifySubmit(removal)
		}
	}, time.Hour)
	require.NoError(t, rt.RebuildAll(ctx, slices.Values([]counterEvent{{Key: "a", Delta: 5}}), failRemoval))
	<-removal
	fs.NotifySubmit(nil)
	rt.Close()
	left := 0
	for _, err := range e.store.Keys(ctx, counter{}.Name()) {
		require.NoError(t, err)
		left++
	}
	require.Equal(t, 2, left, "the removal of the first generation was to fail")

	rt, err = projection.New(fs, nil, counter{})
	require.NoError(t, err)
	defer rt.Close()
	projectiontestWait(t, func() bool {
		for _, err := range e.store.Keys(ctx, counter{}.Name()) {
			require.NoError(t, err)
			return false
		}
		return true
	})
	requireTotals(t, rt, map[string]int64{"a": 5}, "b")
}

// Ensure that a key whose state RebuildAll wrote out, read back and
// wrote out again unchanged (a Positioned duplicate folds nothing) before
// the first write was committed keeps its state: the source here holds
// each event of a key twice, with a memory of one state and no commit
// until the end.
func TestRuntime_RebuildAll_DuplicateAfterWriteOutKeepsState(t *testing.T) {
	rt := newPositioned(t, newEnv(t).store)
	defer rt.Close()
	ctx := ctxT(t)
	src := []posEvent{{"a", 1, 1}, {"b", 1, 1}, {"a", 1, 1}, {"b", 2, 1}, {"a", 2, 1}, {"b", 2, 1}, {"a", 3, 1}}
	require.NoError(t, rt.RebuildAll(ctx, slices.Values(src), projection.WithRebuildMemory(1), projection.WithRebuildBatch(100)))
	for k, seen := range map[string][]uint64{"a": {1, 2, 3}, "b": {1, 2}} {
		snap, err := rt.ReadRequired(ctx, k)
		require.NoError(t, err)
		require.Equal(t, seen, snap.State.Seen, "key %s", k)
		require.Equal(t, uint64(len(seen)), snap.Version, "key %s", k)
	}
}
