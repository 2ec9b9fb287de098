package projection_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// Ensure that a second runtime writing the same keys through the same store
// never wedges the first: its applies after the other's commits succeed,
// and Read shows the other's commits once the first has folded again.
func TestRuntime_Apply_SecondWriterDoesNotWedge(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	one, err := projection.New(e.store, nil, counter{})
	require.NoError(t, err)
	two, err := projection.New(e.store, nil, counter{})
	require.NoError(t, err)

	v, err := one.Apply(ctx, counterEvent{Delta: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(1), v)
	v, err = two.Apply(ctx, counterEvent{Delta: 10})
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)
	for i := range 3 {
		v, err = one.Apply(ctx, counterEvent{Delta: 100})
		require.NoError(t, err, "apply %d of the first runtime after the second wrote", i)
		require.Equal(t, uint64(3+i), v)
	}
	snap, err := one.ReadRequired(ctx, "default-key")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 311}, snap.State)
	require.Equal(t, uint64(5), snap.Version)
	require.NotZero(t, one.Stats().Retries)
}

// Ensure that two runtimes applying concurrently to the same keys through
// one store lose no acknowledged event and apply none twice: every key ends
// at the fold of every event either runtime acknowledged, and subscribers of
// both runtimes, sharing the bus, converge on that state.
func TestRuntime_Apply_TwoWritersConcurrently(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	rts := make([]*projection.Runtime[counterEvent, counterState, counterDelta], 2)
	for i := range rts {
		rt, err := projection.New(e.store, e.bus, counter{})
		require.NoError(t, err)
		rts[i] = rt
	}
	keys := []string{"k0", "k1", "k2"}
	subs := make([]*projection.Subscription[counterState, counterDelta], 0, len(rts)*len(keys))
	for _, rt := range rts {
		for _, k := range keys {
			sub, err := rt.Subscribe(ctx, k, projection.WithInitialState(), projection.WithBuffer(8))
			require.NoError(t, err)
			defer sub.Close()
			subs = append(subs, sub)
		}
	}

	const perGoroutine = 60
	var (
		mu    sync.Mutex // guards acked
		acked = map[string]int64{}
		wg    sync.WaitGroup
	)
	for g := range 8 {
		rt := rts[g%len(rts)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				k := keys[(g+i)%len(keys)]
				delta := int64(g*1000 + i + 1)
				_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: delta})
				if errors.Is(err, projection.ErrAborted) {
					continue // refused after its retries: not acknowledged, not applied
				}
				if !assertNoError(t, err) {
					return
				}
				mu.Lock()
				acked[k] += delta
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	fresh, err := projection.New(e.store, nil, counter{})
	require.NoError(t, err)
	for _, k := range keys {
		snap, err := fresh.ReadRequired(ctx, k)
		require.NoError(t, err)
		require.Equal(t, acked[k], snap.State.Total, "key %s: the stored state is the fold of every acknowledged event", k)
		for _, rt := range rts {
			got, err := rt.ReadRequired(ctx, k)
			require.NoError(t, err)
			if got.Version != snap.Version {
				// The runtime has not folded this key since the other's
				// last commit; its next apply would reload it.
				continue
			}
			require.Equal(t, snap.State, got.State)
		}
	}
	for i, sub := range subs {
		k := keys[i%len(keys)]
		want := acked[k]
		for {
			u := next(t, sub)
			if u.State.Total == want {
				break
			}
		}
	}
}

// assertNoError reports err as a test failure from any goroutine.
func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(fmt.Errorf("unexpected error: %w", err))
		return false
	}
	return true
}
