package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/store"
)

// currentBucket returns the bucket that holds the current generation of
// projection's snapshots: the projection's own bucket until a RebuildAll
// switched generations (see projection.RebuildAll).
func currentBucket(ctx context.Context, st store.Store, name string) (string, error) {
	g, err := projection.ReadGenerations(ctx, st, name)
	if err != nil {
		return "", err
	}
	return g.Bucket, nil
}

// generationsOf reads the generation records of the projections a file
// holds, keyed by projection name; projections never rebuilt have none.
func generationsOf(ctx context.Context, st store.Store) (map[string]projection.Generations, error) {
	gens := map[string]projection.Generations{}
	for name, err := range st.Keys(ctx, projection.GenerationsBucket) {
		if err != nil {
			return nil, err
		}
		g, err := projection.ReadGenerations(ctx, st, name)
		if err != nil {
			return nil, err
		}
		gens[name] = g
	}
	return gens, nil
}

// notCurrent reports whether bucket holds snapshots of a generation that is
// not its projection's current one: one being built, or a previous one
// (removed, or not yet: its bucket stays, empty, once its records are gone).
func notCurrent(gens map[string]projection.Generations, bucket string) bool {
	name := bucket
	if n, _, later := projection.GenerationOf(bucket); later {
		name = n
	}
	g, ok := gens[name]
	return ok && g.Bucket != bucket
}

// displayName returns the projection name to show for bucket: its
// projection's name for the bucket of a current later generation.
func displayName(gens map[string]projection.Generations, bucket string) string {
	if name, _, ok := projection.GenerationOf(bucket); ok {
		if g, ok := gens[name]; ok && g.Bucket == bucket {
			return name
		}
	}
	return bucket
}

// printGenerations writes one line per rebuilt projection: its current
// generation and revision, and a rebuild under way. (A previous generation
// not yet removed is left out: its removal runs in the background and would
// make the listing differ from one run to the next.)
func printGenerations(w io.Writer, gens map[string]projection.Generations) {
	names := make([]string, 0, len(gens))
	for n := range gens {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		g := gens[n]
		fmt.Fprintf(w, "%s: generation %d is current", displayKey(n), g.Current)
		if g.Revision != "" {
			fmt.Fprintf(w, ", built by revision %q", g.Revision)
		}
		if g.Building != 0 {
			fmt.Fprintf(w, "; a RebuildAll into generation %d is running or was interrupted", g.Building)
		}
		fmt.Fprintln(w)
	}
}
