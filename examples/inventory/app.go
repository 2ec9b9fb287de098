package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// warehouses and skus return the keys the example prints, in order.
func warehouses() []string { return []string{"berlin", "lyon", "oslo"} }
func skus() []string       { return []string{"apple", "pear", "plum"} }

// app is what the edge process holds while it runs: one store, one bus, and
// the runtimes of every projection registered on one dispatcher.
type app struct {
	store *boltstore.Store
	bus   *pubsub.Bus
	d     *projection.Dispatcher
	stock *projection.Runtime[StockMoved, Stock, Level]
	sku   *projection.Runtime[StockMoved, Stock, Level]
	dash  *projection.Runtime[StockMoved, Totals, Movement]

	// log holds the events dispatched since the app opened. A real
	// deployment reads them back from its event store; here they only
	// serve Rebuild.
	log []StockMoved
}

// withApp opens the store at path, runs fn with the app, and closes it.
func withApp(path string, fn func(*app) error) (err error) {
	a, err := openApp(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.close()) }()
	return fn(a)
}

func openApp(path string) (*app, error) {
	store, err := boltstore.Open(path)
	if err != nil {
		return nil, err
	}
	a := &app{store: store, bus: pubsub.New(), d: projection.NewDispatcher()}
	if a.stock, err = projection.New(store, a.bus, warehouseStock{}); err != nil {
		return nil, errors.Join(err, a.close())
	}
	if a.sku, err = projection.New(store, a.bus, skuStock{}); err != nil {
		return nil, errors.Join(err, a.close())
	}
	if a.dash, err = projection.New(store, a.bus, dashboard{}); err != nil {
		return nil, errors.Join(err, a.close())
	}
	// The dispatcher holds the runtimes until it is dropped with the app,
	// so the unregister functions are not needed.
	a.stock.Register(a.d)
	a.sku.Register(a.d)
	a.dash.Register(a.d)
	return a, nil
}

// close ends the live subscriptions, then commits what was accepted and
// closes the file.
func (a *app) close() error {
	a.bus.Close()
	return a.store.Close()
}

// playLive dispatches events to every projection while a subscriber to the
// dashboard prints each update as it arrives.
func (a *app) playLive(ctx context.Context, out io.Writer, events []StockMoved) error {
	sub, err := a.dash.Subscribe(ctx, dashboardKey, projection.WithInitialState())
	if err != nil {
		return err
	}
	done := printLive(sub, out, len(events))
	defer func() {
		sub.Close()
		<-done
	}()
	for _, e := range events {
		if err := projection.Dispatch(ctx, a.d, e); err != nil {
			return err
		}
		a.log = append(a.log, e)
	}
	// Every event touches the dashboard, so the printer ends by itself once
	// it has seen the last one.
	select {
	case <-done:
		return nil
	case <-sub.Done():
		<-done
		return fmt.Errorf("inventory: live updates ended early: %w", sub.Err())
	}
}

// printLive prints sub's updates on a goroutine that ends, closing the
// returned channel, once it has seen n updates past the initial state or
// when sub ends. Until then it is the only writer of out.
func printLive(sub *projection.Subscription[Totals, Movement], out io.Writer, n int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var until uint64
		first := true
		for u := range sub.C() {
			switch u.Kind {
			case projection.KindDelta:
				d := u.Delta
				fmt.Fprintf(out, "  live dashboard v%-2d %-6s %-5s %+4d  -> %3d units in all\n",
					u.Version, d.Warehouse, d.SKU, d.Qty, d.Units)
			case projection.KindDeleted: // the initial state of a new store
				fmt.Fprintf(out, "  live dashboard v%-2d no snapshot yet\n", u.Version)
			default: // the initial state, or a resync had the printer fallen behind
				fmt.Fprintf(out, "  live dashboard v%-2d %-7s %d units in %d movements\n",
					u.Version, u.Kind, u.State.Units, u.State.Movements)
			}
			if first {
				until, first = u.Version+uint64(n), false
			}
			if u.Version >= until {
				return
			}
		}
	}()
	return done
}

// rebuildWarehouse replaces w's snapshot with the fold of its events in the
// log, as after a change to the fold or to repair a snapshot, and shows that
// the result agrees with what the live applies built.
func (a *app) rebuildWarehouse(ctx context.Context, out io.Writer, w string) error {
	live, err := a.stock.ReadRequired(ctx, w)
	if err != nil {
		return err
	}
	n := 0
	events := func(yield func(StockMoved) bool) {
		for _, e := range a.log {
			if e.Warehouse == w {
				n++
				if !yield(e) {
					return
				}
			}
		}
	}
	rebuilt, err := a.stock.Rebuild(ctx, w, events)
	if err != nil {
		return err
	}
	snap, err := a.stock.ReadRequired(ctx, w)
	if err != nil {
		return err
	}
	same := maps.Equal(rebuilt.Units, live.State.Units) && rebuilt.Total == live.State.Total
	fmt.Fprintf(out, "rebuilt %s from %d events: version %d, units %v (same as live v%d: %t)\n",
		w, n, snap.Version, rebuilt.Units, live.Version, same)
	if !same {
		return fmt.Errorf("inventory: rebuilt %s differs from its live snapshot", w)
	}
	return nil
}

// rebuildSKUs recomputes every article of inventory.sku from the log, as
// after a change to its fold, with RebuildAll: the new snapshots are built
// beside the current ones while a subscriber to one article stays live, and
// it gets one KindRebuild when they become current.
func (a *app) rebuildSKUs(ctx context.Context, out io.Writer) error {
	sub, err := a.sku.Subscribe(ctx, "apple")
	if err != nil {
		return err
	}
	defer sub.Close()
	var last projection.RebuildProgress
	report := func(p projection.RebuildProgress) { last = p }
	if err := a.sku.RebuildAll(ctx, slices.Values(a.log), projection.WithProgress(report, time.Hour)); err != nil {
		return err
	}
	select {
	case u := <-sub.C():
		fmt.Fprintf(out, "rebuilt inventory.sku from %d events over %d keys; the apple subscriber got %s v%d, %d units\n",
			last.Events, last.Keys, u.Kind, u.Version, u.State.Total)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// versions describes the version of every snapshot the example keeps.
func (a *app) versions(ctx context.Context) (string, error) {
	var b strings.Builder
	b.WriteString("stock")
	for _, w := range warehouses() {
		s, _, err := a.stock.Read(ctx, w)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, " %s v%d", w, s.Version)
	}
	b.WriteString(", sku")
	for _, k := range skus() {
		s, _, err := a.sku.Read(ctx, k)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, " %s v%d", k, s.Version)
	}
	s, _, err := a.dash.Read(ctx, dashboardKey)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, ", dashboard v%d", s.Version)
	return b.String(), nil
}

// printSummary prints the snapshots read back from the store.
func (a *app) printSummary(ctx context.Context, out io.Writer) error {
	for _, w := range warehouses() {
		s, err := a.stock.ReadRequired(ctx, w)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-6s %3d units %v\n", w, s.State.Total, s.State.Units)
	}
	t, err := a.dash.ReadRequired(ctx, dashboardKey)
	if err != nil {
		return err
	}
	ws := slices.Sorted(maps.Keys(t.State.ByWarehouse))
	fmt.Fprintf(out, "  all    %3d units in %d movements across %s\n",
		t.State.Units, t.State.Movements, strings.Join(ws, ", "))
	return nil
}
