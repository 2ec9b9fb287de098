package projection_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// Vote is the event: someone chose Choice in Poll.
type Vote struct{ Poll, Choice string }

// Tally is the snapshot kept per poll: the votes for each choice.
type Tally map[string]int

// tallies counts votes per poll; each update's delta is the choice voted.
type tallies struct{}

func (tallies) Name() string      { return "polls.tally" }
func (tallies) Key(v Vote) string { return v.Poll }
func (tallies) Apply(t *Tally, v Vote) string {
	if *t == nil {
		*t = Tally{}
	}
	(*t)[v.Choice]++
	return v.Choice
}

func ExampleRuntime_Subscribe() {
	dir, err := os.MkdirTemp("", "livefold-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "polls.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	bus := pubsub.New()
	defer bus.Close()
	rt, err := projection.New(store, bus, tallies{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := rt.Apply(ctx, Vote{"lunch", "pizza"}); err != nil {
		log.Fatal(err)
	}

	// The current state first, then every update after it.
	sub, err := rt.Subscribe(ctx, "lunch", projection.WithInitialState())
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	last, err := rt.Apply(ctx, Vote{"lunch", "sushi"})
	if err != nil {
		log.Fatal(err)
	}
	for u := range sub.C() {
		fmt.Println(u.Kind, u.Version, u.Delta, u.State)
		if u.Version == last {
			break
		}
	}
	// Output:
	// resync 1  map[pizza:1]
	// delta 2 sushi map[pizza:1 sushi:1]
}
