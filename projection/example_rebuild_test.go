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
)

// Reading is the event: Sensor measured Celsius.
type Reading struct {
	Sensor  string
	Celsius float64
}

// Extremes is the snapshot kept per sensor.
type Extremes struct {
	Readings int
	Min, Max float64
}

// extremes keeps the lowest and highest reading of each sensor.
type extremes struct{}

func (extremes) Name() string         { return "sensors.extremes" }
func (extremes) Key(r Reading) string { return r.Sensor }
func (extremes) Apply(s *Extremes, r Reading) float64 {
	if s.Readings == 0 || r.Celsius < s.Min {
		s.Min = r.Celsius
	}
	if s.Readings == 0 || r.Celsius > s.Max {
		s.Max = r.Celsius
	}
	s.Readings++
	return r.Celsius
}

func ExampleRuntime_Rebuild() {
	dir, err := os.MkdirTemp("", "livefold-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "sensors.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rt, err := projection.New(store, nil, extremes{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := rt.Apply(ctx, Reading{"attic", 999}); err != nil { // a faulty reading
		log.Fatal(err)
	}

	// Fold the sensor's corrected history again; the snapshot is replaced in
	// one transaction, and subscribers get one KindRebuild update.
	history := []Reading{{"attic", 18.5}, {"attic", 21}, {"attic", 19.25}}
	state, err := rt.Rebuild(ctx, "attic", slices.Values(history))
	if err != nil {
		log.Fatal(err)
	}
	snap, err := rt.ReadRequired(ctx, "attic")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v at version %d\n", state, snap.Version)
	// Output: {Readings:3 Min:18.5 Max:21} at version 3
}
