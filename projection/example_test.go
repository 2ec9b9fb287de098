package projection_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// Deposit is an example event: Cents paid into Account.
type Deposit struct {
	Account string
	Cents   int64
}

// Balance is an example state.
type Balance struct{ Cents int64 }

// balances folds deposits into per-account balances; the delta is the
// amount deposited.
type balances struct{}

func (balances) Name() string                      { return "bank.balances" }
func (balances) Key(e Deposit) string              { return e.Account }
func (balances) Apply(s *Balance, e Deposit) int64 { s.Cents += e.Cents; return e.Cents }

// openExample opens a store in a temporary directory; close removes it.
func openExample() (store *boltstore.Store, bus *pubsub.Bus, close func()) {
	dir, err := os.MkdirTemp("", "livefold-example-")
	if err != nil {
		log.Fatal(err)
	}
	store, err = boltstore.Open(filepath.Join(dir, "bank.db"))
	if err != nil {
		log.Fatal(err)
	}
	bus = pubsub.New()
	return store, bus, func() {
		bus.Close()
		store.Close()
		os.RemoveAll(dir)
	}
}

func ExampleNew() {
	store, bus, done := openExample()
	defer done()
	rt, err := projection.New(store, bus, balances{}, projection.WithCacheSize(1000))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rt.Name(), rt.Channel("alice"))
	// Output: bank.balances projection.bank.balances.alice
}

func ExampleRuntime_Apply() {
	store, bus, done := openExample()
	defer done()
	rt, _ := projection.New(store, bus, balances{})
	ctx := context.Background()

	for _, cents := range []int64{500, 250} {
		version, err := rt.Apply(ctx, Deposit{"alice", cents}) // durable when it returns
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("version", version)
	}
	snap, _ := rt.ReadRequired(ctx, "alice")
	fmt.Println(snap.State.Cents, "cents at version", snap.Version)
	// Output:
	// version 1
	// version 2
	// 750 cents at version 2
}

func ExampleRuntime_Subscribe() {
	store, bus, done := openExample()
	defer done()
	rt, _ := projection.New(store, bus, balances{})
	ctx := context.Background()
	_, _ = rt.Apply(ctx, Deposit{"alice", 100})

	sub, err := rt.Subscribe(ctx, "alice", projection.WithInitialState())
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	_, _ = rt.Apply(ctx, Deposit{"alice", 40})

	for u := range sub.C() {
		fmt.Println(u.Kind, u.Version, u.Delta, u.State.Cents)
		if u.Version == 2 {
			break
		}
	}
	// Output:
	// resync 1 0 100
	// delta 2 40 140
}

func ExampleRuntime_Rebuild() {
	store, bus, done := openExample()
	defer done()
	rt, _ := projection.New(store, bus, balances{})
	ctx := context.Background()
	_, _ = rt.Apply(ctx, Deposit{"alice", 999}) // a wrong figure

	history := []Deposit{{"alice", 500}, {"alice", 250}}
	state, err := rt.Rebuild(ctx, "alice", slices.Values(history)) // replaces the snapshot atomically
	if err != nil {
		log.Fatal(err)
	}
	snap, _ := rt.ReadRequired(ctx, "alice")
	fmt.Println(state.Cents, snap.Version)
	// Output: 750 2
}

func ExampleRuntime_ApplyBatch() {
	store, bus, done := openExample()
	defer done()
	rt, _ := projection.New(store, bus, balances{})
	ctx := context.Background()

	// One transaction, all or nothing: the catch-up path.
	batch := []Deposit{{"alice", 1}, {"bob", 2}, {"alice", 3}}
	if err := rt.ApplyBatch(ctx, batch); err != nil {
		log.Fatal(err)
	}
	for _, account := range []string{"alice", "bob"} {
		snap, _ := rt.ReadRequired(ctx, account)
		fmt.Println(account, snap.State.Cents, snap.Version)
	}
	// Output:
	// alice 4 2
	// bob 2 1
}

// auditLog is a second projection over the same events: one count for all
// accounts.
type auditLog struct{}

func (auditLog) Name() string                { return "bank.audit" }
func (auditLog) Key(Deposit) string          { return "all" }
func (auditLog) Apply(n *int, _ Deposit) int { *n++; return 1 }

func ExampleDispatcher() {
	store, bus, done := openExample()
	defer done()
	ctx := context.Background()
	d := projection.NewDispatcher()
	perAccount, _ := projection.New(store, bus, balances{})
	audit, _ := projection.New(store, bus, auditLog{})
	perAccount.Register(d)
	unregister := audit.Register(d)

	_ = projection.Dispatch(ctx, d, Deposit{"alice", 5}) // applied by both, in registration order
	unregister()
	_ = projection.Dispatch(ctx, d, Deposit{"alice", 7}) // applied by balances only

	a, _ := perAccount.ReadRequired(ctx, "alice")
	n, _ := audit.ReadRequired(ctx, "all")
	fmt.Println(a.State.Cents, n.State)
	// Output: 12 1
}
