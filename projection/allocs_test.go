package projection_test

import (
	"testing"

	"github.com/livefold/livefold/projection"
)

// Ensure that a cached Read allocates nothing for a state without
// references, and one slice for a state holding one slice: the copy the
// caller owns, and nothing else.
func TestRuntime_Read_Allocations(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	ints, err := projection.New(e.store, e.bus, ints8{})
	if err != nil {
		t.Fatal(err)
	}
	withSlice, err := projection.New(e.store, e.bus, slices8{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if _, err := ints.Apply(ctx, counterEvent{Key: "k", Delta: int64(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := withSlice.Apply(ctx, counterEvent{Key: "k", Delta: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		if s, _, err := ints.Read(ctx, "k"); err != nil || s.State.Count != 8 {
			t.Fatalf("Read = %+v, %v", s, err)
		}
	}); n != 0 {
		t.Errorf("Read of a state without references allocated %v times; want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if s, _, err := withSlice.Read(ctx, "k"); err != nil || len(s.State.Last) != 8 {
			t.Fatalf("Read = %+v, %v", s, err)
		}
	}); n != 1 {
		t.Errorf("Read of a state with one slice allocated %v times; want 1", n)
	}
}
