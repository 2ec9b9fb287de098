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

// Shipped is the event: Units of SKU left Warehouse.
type Shipped struct {
	Warehouse, SKU string
	Units          int
}

// byWarehouse counts the units shipped from each warehouse.
type byWarehouse struct{}

func (byWarehouse) Name() string                { return "shipping.by_warehouse" }
func (byWarehouse) Key(e Shipped) string        { return e.Warehouse }
func (byWarehouse) Apply(n *int, e Shipped) int { *n += e.Units; return e.Units }

// bySKU counts the units shipped of each article.
type bySKU struct{}

func (bySKU) Name() string                { return "shipping.by_sku" }
func (bySKU) Key(e Shipped) string        { return e.SKU }
func (bySKU) Apply(n *int, e Shipped) int { *n += e.Units; return e.Units }

func ExampleDispatcher() {
	dir, err := os.MkdirTemp("", "livefold-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "shipping.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	warehouses, err := projection.New(store, nil, byWarehouse{})
	if err != nil {
		log.Fatal(err)
	}
	skus, err := projection.New(store, nil, bySKU{})
	if err != nil {
		log.Fatal(err)
	}

	// One stream of events feeds every projection registered.
	d := projection.NewDispatcher()
	warehouses.Register(d)
	unregister := skus.Register(d)
	ctx := context.Background()
	events := []Shipped{{"berlin", "apple", 5}, {"lyon", "apple", 2}, {"berlin", "pear", 1}}
	for _, e := range events {
		if err := projection.Dispatch(ctx, d, e); err != nil { // applied by each, in registration order
			log.Fatal(err)
		}
	}
	unregister()
	if err := projection.Dispatch(ctx, d, Shipped{"berlin", "apple", 10}); err != nil { // by warehouses only
		log.Fatal(err)
	}

	berlin, err := warehouses.ReadRequired(ctx, "berlin")
	if err != nil {
		log.Fatal(err)
	}
	apple, err := skus.ReadRequired(ctx, "apple")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("berlin shipped", berlin.State, "units; apples shipped:", apple.State)
	// Output: berlin shipped 16 units; apples shipped: 7
}
