package projection_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
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

func ExampleRuntime_Apply() {
	dir, err := os.MkdirTemp("", "livefold-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "bank.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rt, err := projection.New(store, nil, balances{}) // no bus: nobody subscribes
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	for _, cents := range []int64{500, 250} {
		version, err := rt.Apply(ctx, Deposit{"alice", cents}) // durable when it returns
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("version", version)
	}
	snap, err := rt.ReadRequired(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(snap.State.Cents, "cents at version", snap.Version)
	// Output:
	// version 1
	// version 2
	// 750 cents at version 2
}
