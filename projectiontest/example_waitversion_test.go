package projectiontest_test

import (
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/projectiontest"
)

// Deposit is the event: Cents paid into Account.
type Deposit struct {
	Account string
	Cents   int64
}

// Balance is the snapshot kept per account.
type Balance struct{ Cents int64 }

// balances folds deposits per account; each update's delta is the amount.
type balances struct{}

func (balances) Name() string                      { return "bank.balances" }
func (balances) Key(e Deposit) string              { return e.Account }
func (balances) Apply(s *Balance, e Deposit) int64 { s.Cents += e.Cents; return e.Cents }

// A test of code that applies events on a goroutine of its own, as a
// consumer of a queue does, waits for the version it expects instead of
// sleeping. An Example has no *testing.T to give, so this one is the body of
// a test function, compiled but not run.
func ExampleWaitVersion() {
	var t *testing.T // in a test, its own: func TestDeposits(t *testing.T)

	store := projectiontest.OpenStore(t) // a throw-away file, closed when the test ends
	rt, err := projection.New(store, projectiontest.NewBus(t), balances{})
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan error, 1)
	go func() {
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
		t.Errorf("alice has %d cents; want 750", snap.State.Cents)
	}
}
