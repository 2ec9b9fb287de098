//go:build !race

package projection_test

import (
	"testing"

	"github.com/livefold/livefold/projection"
)

// The race detector makes sync.Pool drop items at random, so allocation
// counts of paths that use pools hold only without it.

// Ensure that an Apply with nobody subscribed allocates at most 8 times for
// a state holding a slice, counting the store's share (issue 15).
func TestRuntime_Apply_Allocations(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	rt, err := projection.New(e.store, e.bus, slices8{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Apply(ctx, counterEvent{Key: "k", Delta: 1}); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() {
		if _, err := rt.Apply(ctx, counterEvent{Key: "k", Delta: 1}); err != nil {
			t.Fatal(err)
		}
	}); n > 8 {
		t.Errorf("Apply allocated %v times; want at most 8", n)
	}
}
