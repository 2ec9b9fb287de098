package main

import (
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/projectiontest"
)

// Ensure that deposits applied on another goroutine add up, waiting for the
// account's version instead of sleeping.
func TestBalances_Apply_AddsDeposits(t *testing.T) {
	store := projectiontest.OpenStore(t) // a throw-away file, closed when the test ends
	rt, err := projection.New(store, projectiontest.NewBus(t), balances{})
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan error, 1)
	go func() { // as a consumer of a queue would
		for _, cents := range []int64{500, 250} {
			if _, err := rt.Apply(t.Context(), Deposit{"alice", cents}); err != nil {
				applied <- err
				return
			}
		}
		applied <- nil
	}()

	snap := projectiontest.WaitVersion[Balance, int64](t, rt, "alice", 2)
	if err := <-applied; err != nil {
		t.Fatal(err)
	}
	if snap.State.Cents != 750 {
		t.Errorf("alice has %d cents at version %d; want 750", snap.State.Cents, snap.Version)
	}
}
