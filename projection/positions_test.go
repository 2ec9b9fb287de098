package projection_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/store"
	"github.com/stretchr/testify/require"
)

// posEvent is an event of stream Key at position Pos.
type posEvent struct {
	Key   string
	Pos   uint64
	Delta int64
}

func (e posEvent) StreamPosition() uint64 { return e.Pos }

// seqState records the order events were folded in.
type seqState struct {
	Total int64
	Seen  []uint64
}

type positioned struct{}

func (positioned) Name() string          { return "test.positioned" }
func (positioned) Key(e posEvent) string { return e.Key }
func (positioned) Apply(s *seqState, e posEvent) int64 {
	s.Total += e.Delta
	s.Seen = append(s.Seen, e.Pos)
	return e.Delta
}

func newPositioned(t testing.TB, st store.Store, opts ...projection.Option) *projection.Runtime[posEvent, seqState, int64] {
	t.Helper()
	rt, err := projection.New(st, nil, positioned{}, opts...)
	require.NoError(t, err)
	return rt
}

// Ensure that a positioned event at or below the stored position is skipped
// with ErrDuplicate, and one that skips positions is refused with ErrGap,
// both changing nothing.
func TestRuntime_Apply_PositionsSkipDuplicatesRefuseGaps(t *testing.T) {
	rt := newPositioned(t, newEnv(t).store)
	ctx := ctxT(t)
	for pos := uint64(1); pos <= 3; pos++ {
		v, err := rt.Apply(ctx, posEvent{"s", pos, 1})
		require.NoError(t, err)
		require.Equal(t, pos, v)
	}
	v, err := rt.Apply(ctx, posEvent{"s", 2, 100})
	require.ErrorIs(t, err, projection.ErrDuplicate)
	require.Equal(t, uint64(3), v)

	_, err = rt.Apply(ctx, posEvent{"s", 5, 100})
	require.ErrorIs(t, err, projection.ErrGap)
	var gap *projection.GapError
	require.ErrorAs(t, err, &gap)
	require.Equal(t, uint64(4), gap.Want)
	require.Equal(t, uint64(5), gap.Got)

	snap, err := rt.ReadRequired(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2, 3}, snap.State.Seen)
	require.Equal(t, uint64(3), snap.Version)

	// An event without a position is always folded.
	v, err = rt.Apply(ctx, posEvent{"s", 0, 1})
	require.NoError(t, err)
	require.Equal(t, uint64(4), v)
}

// Ensure that WithGaps accepts holes and WithoutPositions ignores positions.
func TestRuntime_Apply_GapsAndWithoutPositions(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	gaps := newPositioned(t, e.store, projection.WithGaps())
	_, err := gaps.Apply(ctx, posEvent{"s", 5, 1})
	require.NoError(t, err)
	_, err = gaps.Apply(ctx, posEvent{"s", 5, 1})
	require.ErrorIs(t, err, projection.ErrDuplicate)

	all, err := projection.New(e.store, nil, renamed{positioned{}, "test.all"}, projection.WithoutPositions())
	require.NoError(t, err)
	for range 3 {
		_, err := all.Apply(ctx, posEvent{"s", 7, 1})
		require.NoError(t, err)
	}
	snap, err := all.ReadRequired(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, int64(3), snap.State.Total)
}

// Ensure that a gap is judged against the store, not against a cached state
// that another writer of the store has moved past: a runtime that cached a
// key before another runtime (another process, as far as it knows: they
// share no bus) folded the next positions folds the position after those,
// a position past them is still a gap, and ApplyBatch judges the same way.
func TestRuntime_Apply_GapJudgedAgainstTheStoreNotAStaleCache(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	one := newPositioned(t, e.store)
	two := newPositioned(t, e.store)
	_, err := one.Apply(ctx, posEvent{"s", 1, 1})
	require.NoError(t, err)
	for pos := uint64(2); pos <= 4; pos++ {
		_, err := two.Apply(ctx, posEvent{"s", pos, 10})
		require.NoError(t, err)
	}
	snap, err := one.ReadRequired(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, uint64(1), snap.Version, "the first runtime's cache is behind the store")

	_, err = one.Apply(ctx, posEvent{"s", 7, 100})
	var gap *projection.GapError
	require.ErrorAs(t, err, &gap, "a gap past the store's position too")
	require.Equal(t, uint64(5), gap.Want)
	v, err := one.Apply(ctx, posEvent{"s", 5, 100})
	require.NoError(t, err)
	require.Equal(t, uint64(5), v)

	for pos := uint64(6); pos <= 7; pos++ {
		_, err := two.Apply(ctx, posEvent{"s", pos, 10})
		require.NoError(t, err)
	}
	require.NoError(t, one.ApplyBatch(ctx, []posEvent{{"s", 8, 1000}, {"s", 9, 1000}}))
	snap, err = one.ReadRequired(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, uint64(9), snap.Version)
	require.Equal(t, seqState{Total: 1 + 3*10 + 100 + 2*10 + 2*1000, Seen: []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}}, snap.State)
}

type renamed struct {
	positioned
	name string
}

func (r renamed) Name() string { return r.name }

// Ensure that redelivering every event several times, shuffled within a
// window and concurrently, has an exactly-once effect: the final states
// equal a single in-order fold. Deliveries refused for a gap are redelivered
// later, as an at-least-once source would.
func TestRuntime_Apply_RedeliveryIsExactlyOnce(t *testing.T) {
	st, err := boltstore.Open(t.TempDir()+"/r.db", boltstore.WithNoSync())
	require.NoError(t, err)
	defer st.Close()
	rt := newPositioned(t, st)
	ctx := ctxT(t)
	rng := rand.New(rand.NewPCG(7, 9))
	const keys, perKey, copies, window = 4, 40, 3, 6

	var queue []posEvent
	for k := range keys {
		var stream []posEvent
		for pos := uint64(1); pos <= perKey; pos++ {
			for range copies {
				stream = append(stream, posEvent{Key: string(rune('a' + k)), Pos: pos, Delta: int64(pos)})
			}
		}
		for i := 0; i < len(stream); i += window {
			w := stream[i:min(i+window, len(stream))]
			rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
		}
		queue = append(queue, stream...)
	}
	// Interleave keys a little, too.
	for i := 0; i+window < len(queue); i += window {
		j := i + rng.IntN(window)
		queue[i], queue[j] = queue[j], queue[i]
	}

	var mu sync.Mutex // guards queue
	take := func() (posEvent, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(queue) == 0 {
			return posEvent{}, false
		}
		ev := queue[0]
		queue = queue[1:]
		return ev, true
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ev, ok := take()
				if !ok {
					return
				}
				_, err := rt.Apply(ctx, ev)
				switch {
				case errors.Is(err, projection.ErrGap):
					mu.Lock()
					queue = append(queue, ev) // redeliver later
					mu.Unlock()
				case err != nil && !errors.Is(err, projection.ErrDuplicate):
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := make([]uint64, perKey)
	var total int64
	for i := range want {
		want[i] = uint64(i + 1)
		total += int64(i + 1)
	}
	for k := range keys {
		snap, err := rt.ReadRequired(ctx, string(rune('a'+k)))
		require.NoError(t, err)
		require.Equal(t, want, snap.State.Seen)
		require.Equal(t, total, snap.State.Total)
		require.Equal(t, uint64(perKey), snap.Version)
	}
}

// Ensure that a redelivery of an event whose commit is still in flight waits
// for that commit: if it succeeds the redelivery is a duplicate, if it fails
// the redelivery is folded, so the event is never lost.
func TestRuntime_Apply_DuplicateOfEventInFlight(t *testing.T) {
	for _, commitFails := range []bool{false, true} {
		e := newEnv(t)
		fs := newFaultStore(e.store, make(chan struct{}, 8))
		rt := newPositioned(t, fs)
		ctx := ctxT(t)
		_, err := rt.Apply(ctx, posEvent{"s", 1, 1})
		require.NoError(t, err)
		<-fs.submits

		started, release := fs.holdNext()
		if commitFails {
			fs.failNext(1)
		}
		first := make(chan error, 1)
		go func() {
			_, err := rt.Apply(ctx, posEvent{"s", 2, 10})
			first <- err
		}()
		<-started
		<-fs.submits
		second := make(chan error, 1)
		var secondVersion uint64
		go func() {
			var err error
			secondVersion, err = rt.Apply(ctx, posEvent{"s", 2, 10})
			second <- err
		}()
		<-fs.submits // the redelivery queued a barrier behind the held commit
		release()
		errFirst, errSecond := <-first, <-second
		if commitFails {
			require.Error(t, errFirst)
			require.NoError(t, errSecond, "the redelivery must be folded when the original failed")
		} else {
			require.NoError(t, errFirst)
			require.ErrorIs(t, errSecond, projection.ErrDuplicate)
		}
		require.Equal(t, uint64(2), secondVersion)
		snap, err := rt.ReadRequired(ctx, "s")
		require.NoError(t, err)
		require.Equal(t, []uint64{1, 2}, snap.State.Seen)
	}
}

// Ensure that Rebuild stores the last position and skips duplicates in its
// input, and that ApplyBatch skips duplicates silently.
func TestRuntime_RebuildAndBatch_Positions(t *testing.T) {
	rt := newPositioned(t, newEnv(t).store)
	ctx := ctxT(t)
	history := []posEvent{{"s", 1, 1}, {"s", 2, 1}, {"s", 2, 1}, {"s", 3, 1}}
	state, err := rt.Rebuild(ctx, "s", slices.Values(history))
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2, 3}, state.Seen)
	_, err = rt.Apply(ctx, posEvent{"s", 3, 1})
	require.ErrorIs(t, err, projection.ErrDuplicate)

	require.NoError(t, rt.ApplyBatch(ctx, []posEvent{{"s", 3, 1}, {"s", 4, 1}, {"s", 4, 1}, {"s", 5, 1}}))
	require.NoError(t, rt.ApplyBatch(ctx, []posEvent{{"s", 5, 1}}), "a batch of duplicates changes nothing")
	snap, err := rt.ReadRequired(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2, 3, 4, 5}, snap.State.Seen)
	require.Equal(t, uint64(5), snap.Version)

	err = rt.ApplyBatch(ctx, []posEvent{{"s", 6, 1}, {"s", 8, 1}})
	require.ErrorIs(t, err, projection.ErrGap)
	snap, err = rt.ReadRequired(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, uint64(5), snap.Version, "a gap fails the whole batch")
}
