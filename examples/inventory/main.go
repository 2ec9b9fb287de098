// Command inventory is an edge-app style example of livefold: one stream of
// stock movements feeds several read models at once through a Dispatcher.
//
//   - inventory.stock: per-warehouse units, keyed by warehouse;
//   - inventory.sku: per-article units across warehouses, keyed by SKU;
//   - inventory.dashboard: one key, "all", that every movement touches.
//
// The program subscribes to the dashboard and prints its live updates,
// rebuilds one warehouse from the event log, then closes the store, reopens
// the same file, recreates the runtimes and carries on from the persisted
// versions. It runs in about a second and needs nothing installed:
//
//	go run ./examples/inventory
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
)

func main() {
	dir, err := os.MkdirTemp("", "livefold-inventory-")
	if err != nil {
		log.Fatal(err)
	}
	err = run(context.Background(), dir, os.Stdout)
	os.RemoveAll(dir)
	if err != nil {
		log.Fatal(err)
	}
}

// run plays the whole scenario in dir, printing to out. Every store it opens
// is closed before run returns, so the caller may open dbFile(dir) afterwards.
func run(ctx context.Context, dir string, out io.Writer) error {
	var before string
	err := withApp(dir, func(a *app) error {
		fmt.Fprintf(out, "store %s\n", a.store.Path())
		if err := a.playLive(ctx, out, firstDay()); err != nil {
			return err
		}
		if err := a.rebuildWarehouse(ctx, out, "lyon"); err != nil {
			return err
		}
		var err error
		before, err = a.versions(ctx)
		fmt.Fprintf(out, "closing at     %s\n", before)
		return err
	})
	if err != nil {
		return err
	}

	// A restart keeps nothing but the file: the runtimes are new, the event
	// log kept in memory is gone, and the snapshots are where they resume.
	return withApp(dir, func(a *app) error {
		after, err := a.versions(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "reopened at    %s\n", after)
		if after != before {
			return fmt.Errorf("inventory: versions changed across the restart: %s, then %s", before, after)
		}
		if err := a.playLive(ctx, out, secondDay()); err != nil {
			return err
		}
		final, err := a.versions(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "finished at    %s\n", final)
		return a.printSummary(ctx, out)
	})
}
