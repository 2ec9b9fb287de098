// Command bank keeps a balance per account: it folds deposits into snapshots
// stored in one file and prints the live updates of one account.
//
//	go run ./examples/bank -db bank.db
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
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

func main() {
	db := flag.String("db", "", "file to keep the balances in (default: a temporary file removed on exit)")
	flag.Parse()
	if err := run(context.Background(), *db); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path string) (err error) {
	if path == "" {
		dir, err := os.MkdirTemp("", "bank-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "bank.db")
	}
	store, err := boltstore.Open(path) // boltstore.ErrLocked while another process has it open
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }() // Close commits what was accepted
	bus := pubsub.New()
	defer bus.Close()
	rt, err := projection.New(store, bus, balances{})
	if err != nil {
		return err
	}

	sub, err := rt.Subscribe(ctx, "alice", projection.WithInitialState())
	if err != nil {
		return err
	}
	defer sub.Close()
	var last uint64
	for _, cents := range []int64{500, 250} {
		if last, err = rt.Apply(ctx, Deposit{"alice", cents}); err != nil { // durable when it returns
			return err
		}
	}
	// First the state alice had ("deleted" at version 0 in a new file), then
	// one delta per deposit.
	for u := range sub.C() {
		fmt.Println(u.Kind, u.Version, u.Delta, u.State.Cents)
		if u.Version >= last {
			return nil
		}
	}
	return sub.Err() // the subscription ended before the last deposit
}
