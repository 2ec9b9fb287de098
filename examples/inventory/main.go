// Command inventory is an edge-app style example of livefold: one stream of
// stock movements feeds several read models at once through a Dispatcher.
//
//   - inventory.stock: per-warehouse units, keyed by warehouse;
//   - inventory.sku: per-article units across warehouses, keyed by SKU;
//   - inventory.dashboard: one key, "all", that every movement touches.
//
// The program subscribes to the dashboard and prints its live updates,
// rebuilds one warehouse from the event log, rebuilds every article with
// RebuildAll while a subscriber stays live, then closes the store, reopens
// the same file, recreates the runtimes and carries on from the persisted
// versions. It runs in about a second and needs nothing installed:
//
//	go run ./examples/inventory -db inventory.db
//
// Without -db the store is a temporary file removed on exit; with it, the
// file stays for the inspector (go run ./cmd/livefold), and a second run
// carries on from the versions the first one left.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
)

func main() {
	db := flag.String("db", "", "bbolt file to keep the read models in (default: a temporary file removed on exit)")
	flag.Parse()
	if err := runIn(context.Background(), *db, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// runIn runs the scenario with the store at path, or in a temporary
// directory removed afterwards when path is empty.
func runIn(ctx context.Context, path string, out io.Writer) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "livefold-inventory-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "inventory.db")
	}
	return run(ctx, path, out)
}

// run plays the whole scenario with the store at path, printing to out.
// Every store it opens is closed before run returns, so the caller may open
// path afterwards.
func run(ctx context.Context, path string, out io.Writer) error {
	var before string
	err := withApp(path, func(a *app) error {
		fmt.Fprintf(out, "store %s\n", a.store.Path())
		// The rebuild folds the events of this run's log: a file that an
		// earlier run left holds more than that.
		_, earlier, err := a.stock.Read(ctx, "lyon")
		if err != nil {
			return err
		}
		if err := a.playLive(ctx, out, firstDay()); err != nil {
			return err
		}
		if earlier {
			fmt.Fprintln(out, "not rebuilding lyon: the file holds events of an earlier run that this run's log lacks")
		} else {
			if err := a.rebuildWarehouse(ctx, out, "lyon"); err != nil {
				return err
			}
			if err := a.rebuildSKUs(ctx, out); err != nil {
				return err
			}
		}
		before, err = a.versions(ctx)
		fmt.Fprintf(out, "closing at     %s\n", before)
		return err
	})
	if err != nil {
		return err
	}

	// A restart keeps nothing but the file: the runtimes are new, the event
	// log kept in memory is gone, and the snapshots are where they resume.
	return withApp(path, func(a *app) error {
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
