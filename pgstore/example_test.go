package pgstore_test

import (
	"context"
	"errors"
	"log"
	"os"

	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// Deposit, Balance and balances are the projection of examples/bank,
// unchanged.
type Deposit struct {
	Account string
	Cents   int64
}

type Balance struct{ Cents int64 }

type balances struct{}

func (balances) Name() string                      { return "bank.balances" }
func (balances) Key(e Deposit) string              { return e.Account }
func (balances) Apply(s *Balance, e Deposit) int64 { s.Cents += e.Cents; return e.Cents }

// Example runs the bank example's projection on PostgreSQL, which any
// number of processes may do at once: only the line that opens the store
// differs from the embedded program.
func Example() {
	if err := bank(context.Background(), os.Getenv("LIVEFOLD_PG_URL")); err != nil {
		log.Fatal(err)
	}
}

func bank(ctx context.Context, url string) (err error) {
	store, err := pgstore.Open(ctx, url) // was: boltstore.Open(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	bus := pubsub.New()
	defer bus.Close()
	rt, err := projection.New(store, bus, balances{})
	if err != nil {
		return err
	}
	defer rt.Close()
	// Durable when it returns; subscribers of alice in every process hear
	// of it.
	_, err = rt.Apply(ctx, Deposit{"alice", 500})
	return err
}
