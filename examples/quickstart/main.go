// Command quickstart shows livefold in one screen: it opens a store, folds
// stock movements into per-warehouse snapshots, prints the live updates a
// subscriber receives, then reopens the file and reads the persisted
// snapshot back.
//
//	go run ./examples/quickstart -db quickstart.db
//
// Without -db the store is a temporary file removed on exit; with it, the
// file stays for the inspector (go run ./cmd/livefold), and a second run
// carries on from the versions the first one left.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// StockMoved is a domain event: Qty units of SKU entered (or, negative, left)
// a warehouse.
type StockMoved struct {
	Warehouse string
	SKU       string
	Qty       int
}

// Stock is the read model of one warehouse.
type Stock struct {
	Units map[string]int
	Total int
}

// Change is the delta each event makes.
type Change struct {
	SKU   string
	Units int
}

// warehouseStock folds stock movements per warehouse.
type warehouseStock struct{}

func (warehouseStock) Name() string            { return "inventory.stock" }
func (warehouseStock) Key(e StockMoved) string { return e.Warehouse }
func (warehouseStock) Apply(s *Stock, e StockMoved) Change {
	if s.Units == nil {
		s.Units = map[string]int{}
	}
	s.Units[e.SKU] += e.Qty
	s.Total += e.Qty
	return Change{SKU: e.SKU, Units: s.Units[e.SKU]}
}

func main() {
	db := flag.String("db", "", "bbolt file to keep the stock in (default: a temporary file removed on exit)")
	flag.Parse()
	if err := runIn(context.Background(), *db); err != nil {
		log.Fatal(err)
	}
}

// runIn runs the example with the store at path, or in a temporary
// directory removed afterwards when path is empty.
func runIn(ctx context.Context, path string) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "livefold-quickstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "quickstart.db")
	}
	return run(ctx, path)
}

func run(ctx context.Context, path string) error {
	store, err := boltstore.Open(path)
	if err != nil {
		return err
	}
	bus := pubsub.New()
	defer bus.Close()
	stock, err := projection.New(store, bus, warehouseStock{})
	if err != nil {
		return err
	}

	sub, err := stock.Subscribe(ctx, "berlin", projection.WithInitialState())
	if err != nil {
		return err
	}
	events := []StockMoved{
		{"berlin", "apple", 40}, {"berlin", "pear", 25}, {"lyon", "apple", 10},
		{"berlin", "apple", -15}, {"berlin", "plum", 8},
	}
	fmt.Printf("applying %d events to %s\n", len(events), path)
	var berlin uint64 // the version of berlin's last apply
	for _, e := range events {
		v, err := stock.Apply(ctx, e)
		if err != nil {
			return err
		}
		if e.Warehouse == "berlin" {
			berlin = v
		}
		fmt.Printf("  %-6s %-5s %+4d  -> %s is at version %d\n", e.Warehouse, e.SKU, e.Qty, e.Warehouse, v)
	}

	fmt.Println("live updates for berlin:")
	for u := range sub.C() {
		switch u.Kind {
		case projection.KindDelta:
			fmt.Printf("  %-7s version %d  %s now %d, total %d\n", u.Kind, u.Version, u.Delta.SKU, u.Delta.Units, u.State.Total)
		default: // the initial state: "deleted" while berlin has no snapshot yet
			fmt.Printf("  %-7s version %d  total %d\n", u.Kind, u.Version, u.State.Total)
		}
		if u.Version >= berlin {
			break
		}
	}
	sub.Close()
	if err := store.Close(); err != nil {
		return err
	}

	// Reopen the file: the snapshots were durable before Apply returned.
	store, err = boltstore.Open(path)
	if err != nil {
		return err
	}
	defer store.Close()
	stock, err = projection.New(store, nil, warehouseStock{})
	if err != nil {
		return err
	}
	snap, err := stock.ReadRequired(ctx, "berlin")
	if err != nil {
		return err
	}
	fmt.Printf("after reopening: berlin version %d, updated %s\n  units %v, total %d\n",
		snap.Version, snap.UpdatedAt.Format("15:04:05.000"), snap.State.Units, snap.State.Total)
	return nil
}
