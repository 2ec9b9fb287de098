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

// Order is the event: Customer paid Cents.
type Order struct {
	Customer string
	Cents    int64
}

// Spend is the snapshot kept per customer.
type Spend struct {
	Orders int
	Cents  int64
}

// spending adds up each customer's orders; each update's delta is the order.
type spending struct{}

func (spending) Name() string       { return "shop.spending" }
func (spending) Key(o Order) string { return o.Customer }
func (spending) Apply(s *Spend, o Order) Order {
	s.Orders++
	s.Cents += o.Cents
	return o
}

func ExampleRuntime_ApplyBatch() {
	dir, err := os.MkdirTemp("", "livefold-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "shop.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rt, err := projection.New(store, nil, spending{})
	if err != nil {
		log.Fatal(err)
	}

	// Catching up on a backlog: one transaction, all events or none.
	ctx := context.Background()
	backlog := []Order{{"ana", 1200}, {"ben", 300}, {"ana", 450}}
	if err := rt.ApplyBatch(ctx, backlog); err != nil {
		log.Fatal(err)
	}
	for _, customer := range []string{"ana", "ben"} {
		snap, err := rt.ReadRequired(ctx, customer)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d orders, %d cents, version %d\n", customer, snap.State.Orders, snap.State.Cents, snap.Version)
	}
	// Output:
	// ana: 2 orders, 1650 cents, version 2
	// ben: 1 orders, 300 cents, version 1
}
