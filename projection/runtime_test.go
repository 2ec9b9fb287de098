package projection_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/store"
	"github.com/stretchr/testify/require"
)

// Ensure that the first apply on an empty store writes version 1.
func TestRuntime_Apply_InitialWritesVersion1(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	v, err := rt.Apply(ctxT(t), counterEvent{Delta: 5})
	require.NoError(t, err)
	require.Equal(t, uint64(1), v)
	snap, err := rt.ReadRequired(ctxT(t), "default-key")
	require.NoError(t, err)
	require.Equal(t, int64(5), snap.State.Total)
	require.Equal(t, uint64(1), snap.Version)
}

// Ensure that a second apply folds onto the stored state and bumps the version.
func TestRuntime_Apply_SecondFoldsAndBumpsVersion(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	_, err := rt.Apply(ctx, counterEvent{Delta: 5})
	require.NoError(t, err)
	v, err := rt.Apply(ctx, counterEvent{Delta: 3})
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)
	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 8}, snap.State)
	require.Equal(t, uint64(2), snap.Version)
}

// Ensure that a new key starts from the zero state.
func TestRuntime_Apply_NewKeyStartsFromZero(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	_, err := rt.Apply(ctx, counterEvent{Key: "k-7", Delta: 7})
	require.NoError(t, err)
	_, err = rt.Apply(ctx, counterEvent{Key: "k-9", Delta: 9})
	require.NoError(t, err)
	s7, err := rt.ReadRequired(ctx, "k-7")
	require.NoError(t, err)
	s9, err := rt.ReadRequired(ctx, "k-9")
	require.NoError(t, err)
	require.Equal(t, int64(7), s7.State.Total)
	require.Equal(t, int64(9), s9.State.Total)
}

// Ensure that Read reports an absent key as not found, and a present one after apply.
func TestRuntime_Read_AbsentThenPresent(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	_, ok, err := rt.Read(ctx, "absent")
	require.NoError(t, err)
	require.False(t, ok)

	_, err = rt.Apply(ctx, counterEvent{Delta: 1})
	require.NoError(t, err)
	_, ok, err = rt.Read(ctx, "default-key")
	require.NoError(t, err)
	require.True(t, ok)
}

// Ensure that ReadRequired of an absent key returns ErrNotFound naming the projection and key.
func TestRuntime_ReadRequired_AbsentIsErrNotFound(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	_, err := rt.ReadRequired(ctxT(t), "absent")
	require.ErrorIs(t, err, projection.ErrNotFound)
	require.Contains(t, err.Error(), "test.counter")
	require.Contains(t, err.Error(), "absent")
}

// Ensure that the version counts applies on one key.
func TestRuntime_Apply_VersionCountsApplies(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	for i := range 5 {
		v, err := rt.Apply(ctx, counterEvent{Delta: 1})
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), v)
	}
	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, uint64(5), snap.Version)
}

// Ensure that UpdatedAt is the commit time of the last apply.
func TestRuntime_Apply_UpdatedAtAdvances(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	clock := func() time.Time { return now }
	rt := newCounter(t, newEnv(t), projection.WithClock(clock))
	ctx := ctxT(t)
	_, err := rt.Apply(ctx, counterEvent{Delta: 1})
	require.NoError(t, err)
	s1, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.True(t, s1.UpdatedAt.Equal(now), "UpdatedAt = %v; want %v", s1.UpdatedAt, now)

	now = now.Add(20 * time.Millisecond)
	_, err = rt.Apply(ctx, counterEvent{Delta: 1})
	require.NoError(t, err)
	s2, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.True(t, s2.UpdatedAt.After(s1.UpdatedAt))
	require.True(t, s2.UpdatedAt.Equal(now))
}

// blocking folds key "slow" only once release is closed, so a test can hold
// one key's apply in the middle of its fold.
type blocking struct {
	entered chan struct{}
	release chan struct{}
}

func (blocking) Name() string              { return "test.blocking" }
func (blocking) Key(e counterEvent) string { return e.Key }
func (b blocking) Apply(s *counterState, e counterEvent) counterDelta {
	if e.Key == "slow" {
		close(b.entered)
		<-b.release
	}
	s.Total += e.Delta
	return counterDelta{NewTotal: s.Total}
}

// Ensure that applies on different keys do not wait for each other.
func TestRuntime_Apply_DifferentKeysRunInParallel(t *testing.T) {
	e := newEnv(t)
	p := blocking{entered: make(chan struct{}), release: make(chan struct{})}
	rt, err := projection.New(e.store, e.bus, p)
	require.NoError(t, err)
	ctx := ctxT(t)
	slow := make(chan error, 1)
	go func() {
		_, err := rt.Apply(ctx, counterEvent{Key: "slow", Delta: 1})
		slow <- err
	}()
	<-p.entered
	// "slow" is mid-fold under its lock; another key must still commit.
	v, err := rt.Apply(ctx, counterEvent{Key: "fast", Delta: 2})
	require.NoError(t, err)
	require.Equal(t, uint64(1), v)
	close(p.release)
	require.NoError(t, <-slow)
}

// Ensure that the seed's integration scenario holds: 20 goroutines applying
// to 5 keys concurrently leave each key at its exact total and version.
func TestRuntime_Apply_ConcurrentAcrossKeys(t *testing.T) {
	for _, durable := range []bool{false, true} {
		t.Run(map[bool]string{false: "nosync", true: "durable"}[durable], func(t *testing.T) {
			var rt *projection.Runtime[counterEvent, counterState, counterDelta]
			if durable {
				st, err := boltstore.Open(t.TempDir() + "/d.db")
				require.NoError(t, err)
				t.Cleanup(func() { _ = st.Close() })
				rt, err = projection.New(st, nil, counter{})
				require.NoError(t, err)
			} else {
				rt = newCounter(t, newEnv(t))
			}
			ctx := ctxT(t)
			const tasks, perTask, keys = 20, 25, 5
			errs := make(chan error, tasks)
			for g := range tasks {
				go func() {
					for i := range perTask {
						_, err := rt.Apply(ctx, counterEvent{Key: "k" + string(rune('0'+(g+i)%keys)), Delta: int64(g + 1)})
						if err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range tasks {
				require.NoError(t, <-errs)
			}
			var want [keys]int64
			var count [keys]uint64
			for g := range tasks {
				for i := range perTask {
					want[(g+i)%keys] += int64(g + 1)
					count[(g+i)%keys]++
				}
			}
			for k := range keys {
				snap, err := rt.ReadRequired(ctx, "k"+string(rune('0'+k)))
				require.NoError(t, err)
				require.Equal(t, want[k], snap.State.Total, "key %d", k)
				require.Equal(t, count[k], snap.Version, "key %d", k)
			}
		})
	}
}

// Ensure that snapshots survive closing and reopening the store.
func TestRuntime_Apply_PersistsAcrossReopen(t *testing.T) {
	path := t.TempDir() + "/p.db"
	st, err := boltstore.Open(path)
	require.NoError(t, err)
	rt, err := projection.New(st, nil, counter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	for range 3 {
		_, err = rt.Apply(ctx, counterEvent{Delta: 2})
		require.NoError(t, err)
	}
	require.NoError(t, st.Close())

	st, err = boltstore.Open(path)
	require.NoError(t, err)
	defer st.Close()
	rt, err = projection.New(st, nil, counter{})
	require.NoError(t, err)
	snap, err := rt.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 6}, snap.State)
	require.Equal(t, uint64(3), snap.Version)
	v, err := rt.Apply(ctx, counterEvent{Delta: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(4), v)
}

// Ensure that states returned by Read share no memory with what the runtime
// keeps: mutating them changes neither later reads nor later folds.
func TestRuntime_Read_ReturnsPrivateCopies(t *testing.T) {
	e := newEnv(t)
	rt, err := projection.New(e.store, e.bus, tags{})
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = rt.Apply(ctx, counterEvent{Key: "k", Delta: 0})
	require.NoError(t, err)

	snap, err := rt.ReadRequired(ctx, "k")
	require.NoError(t, err)
	snap.State.Tags["ta"] = 99
	snap.State.Tags["zz"] = 1
	snap.State.Order[0] = "mutated"

	again, err := rt.ReadRequired(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, map[string]int{"ta": 1}, again.State.Tags)
	require.Equal(t, []string{"ta"}, again.State.Order)

	_, err = rt.Apply(ctx, counterEvent{Key: "k", Delta: 0})
	require.NoError(t, err)
	after, err := rt.ReadRequired(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, map[string]int{"ta": 2}, after.State.Tags)
	require.Equal(t, []string{"ta", "ta"}, after.State.Order)
}

// Ensure that New refuses the store a failed boltstore.Open returns, a nil
// *boltstore.Store inside a non-nil interface, instead of panicking later.
func TestNew_TypedNilStore(t *testing.T) {
	st, err := boltstore.Open(t.TempDir()) // a directory: Open fails
	require.Error(t, err)
	_, err = projection.New(st, nil, counter{})
	require.ErrorIs(t, err, projection.ErrNilArgument)
}

// Ensure that a projection name that cannot name a channel, or that is
// longer than a store accepts, is refused.
func TestNew_InvalidName(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"", "a..b", "has space", "star.*", ".lead", "trail."} {
		_, err := projection.New(e.store, e.bus, counter{name: name + "\x00"[:0]})
		if name == "" {
			// counter{} with an empty name falls back to its default; use a
			// projection that really returns "".
			_, err = projection.New(e.store, e.bus, emptyName{})
		}
		require.ErrorIs(t, err, projection.ErrInvalidName, "name %q", name)
	}
	_, err := projection.New(e.store, e.bus, counter{name: strings.Repeat("n", projection.MaxNameLen+1)})
	require.ErrorIs(t, err, projection.ErrInvalidName, "a name longer than every store accepts")
	_, err = projection.New(e.store, e.bus, counter{name: strings.Repeat("n", projection.MaxNameLen)})
	require.NoError(t, err)
	_, err = projection.New(nil, e.bus, counter{})
	require.ErrorIs(t, err, projection.ErrNilArgument)
	_, err = projection.New(e.store, e.bus, counter{}, projection.WithCacheSize(0))
	require.ErrorIs(t, err, projection.ErrInvalidOption)
}

type emptyName struct{ counter }

func (emptyName) Name() string { return "" }

// Ensure that bad keys, over-long or not UTF-8, are refused with
// ErrInvalidKey and change nothing.
func TestRuntime_Apply_InvalidKey(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	for _, key := range []string{strings.Repeat("k", projection.MaxKeyLen+1), "a\xffb", "\xc3", strings.Repeat("é", projection.MaxKeyLen/2) + "x"} {
		_, err := rt.Apply(ctx, counterEvent{Key: key, Delta: 1})
		require.ErrorIs(t, err, projection.ErrInvalidKey, "key %.20q", key)
		_, _, err = rt.Read(ctx, key)
		require.ErrorIs(t, err, projection.ErrInvalidKey)
	}
	_, _, err := rt.Read(ctx, "")
	require.ErrorIs(t, err, projection.ErrInvalidKey)
	long := strings.Repeat("k", projection.MaxKeyLen)
	v, err := rt.Apply(ctx, counterEvent{Key: long, Delta: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(1), v)
}

// panicky panics in Apply on Delta < 0 and in Key on key "boom".
type panicky struct{}

func (panicky) Name() string { return "test.panicky" }
func (panicky) Key(e counterEvent) string {
	if e.Key == "boom" {
		panic("key exploded")
	}
	return "k"
}
func (p panicky) Apply(s *counterState, e counterEvent) counterDelta {
	s.Total += e.Delta // mutate first: the runtime must discard this
	if e.Delta < 0 {
		panic(errNegative)
	}
	return counterDelta{NewTotal: s.Total}
}

var errNegative = errors.New("negative")

// Ensure that a panicking Apply or Key is reported, changes nothing and
// releases the key for the next apply.
func TestRuntime_Apply_PanicChangesNothing(t *testing.T) {
	e := newEnv(t)
	rt, err := projection.New(e.store, e.bus, panicky{})
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = rt.Apply(ctx, counterEvent{Delta: 5})
	require.NoError(t, err)

	_, err = rt.Apply(ctx, counterEvent{Delta: -1})
	require.ErrorIs(t, err, projection.ErrApplyPanic)
	var pe *projection.PanicError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "k", pe.Key)
	require.ErrorIs(t, err, errNegative)

	_, err = rt.Apply(ctx, counterEvent{Key: "boom"})
	require.ErrorIs(t, err, projection.ErrApplyPanic)

	snap, err := rt.ReadRequired(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 5}, snap.State)
	require.Equal(t, uint64(1), snap.Version)

	v, err := rt.Apply(ctx, counterEvent{Delta: 1}) // the lock was released
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)
	snap, err = rt.ReadRequired(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, int64(6), snap.State.Total)
}

// Ensure that a cancelled context is refused before anything changes.
func TestRuntime_Apply_CancelledContext(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := rt.Apply(ctx, counterEvent{Delta: 1})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, rt.ApplyBatch(ctx, []counterEvent{{Delta: 1}}), context.Canceled)
	_, err = rt.Rebuild(ctx, "default-key", slices.Values([]counterEvent{{Delta: 1}}))
	require.ErrorIs(t, err, context.Canceled)
	_, ok, err := rt.Read(context.Background(), "default-key")
	require.NoError(t, err)
	require.False(t, ok)
}

// Ensure that every call on a closed store fails with ErrClosed.
func TestRuntime_Apply_ClosedStore(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	ctx := ctxT(t)
	require.NoError(t, e.store.Close())
	_, err := rt.Apply(ctx, counterEvent{Delta: 1})
	require.ErrorIs(t, err, projection.ErrClosed)
	_, _, err = rt.Read(ctx, "x")
	require.ErrorIs(t, err, projection.ErrClosed)
	require.ErrorIs(t, rt.ApplyBatch(ctx, []counterEvent{{Delta: 1}}), projection.ErrClosed)
	_, err = rt.Rebuild(ctx, "default-key", slices.Values([]counterEvent{{Delta: 1}}))
	require.ErrorIs(t, err, projection.ErrClosed)
}

// Ensure that Kind names match the seed's frame names.
func TestKind_String(t *testing.T) {
	for k, want := range map[projection.Kind]string{
		projection.KindDelta: "delta", projection.KindRebuild: "rebuild",
		projection.KindResync: "resync", projection.KindDeleted: "deleted", projection.Kind(0): "kind(0)",
	} {
		require.Equal(t, want, k.String())
	}
}

// Ensure that Verify finds nothing wrong in a healthy store, also behind a
// wrapper that forwards the store's methods, and says so plainly when its
// store cannot walk a bucket.
func TestRuntime_Verify_HealthyWrappedAndUnsupported(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	ctx := ctxT(t)
	for _, k := range []string{"a", "b"} {
		_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
		require.NoError(t, err)
	}
	damaged, err := rt.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, damaged)

	wrapped, err := projection.New(newFaultStore(e.store, nil), nil, counter{})
	require.NoError(t, err)
	damaged, err = wrapped.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, damaged)

	unsupported, err := projection.New(noScanStore{e.store}, nil, counter{})
	require.NoError(t, err)
	_, err = unsupported.Verify(ctx)
	require.ErrorIs(t, err, projection.ErrUnsupported)
	require.ErrorIs(t, err, store.ErrUnsupported)
}

// noScanStore is a store that cannot walk a bucket and says so.
type noScanStore struct{ store.Store }

func (noScanStore) Scan(context.Context, string) iter.Seq2[store.KeyRecord, error] {
	return func(yield func(store.KeyRecord, error) bool) {
		yield(store.KeyRecord{}, fmt.Errorf("noscan: %w", store.ErrUnsupported))
	}
}
