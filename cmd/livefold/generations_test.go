package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
)

// Ensure that a projection rebuilt with RebuildAll is shown once, with its
// current generation's records: projections names it with a line about its
// generation, keys and get read the current generation, and verify counts it
// once.
func TestRun_RebuiltProjection_ShowsCurrentGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebuilt.db")
	writeEvents(t, path, map[string][]added{projA: {{Key: "alpha", N: 1}, {Key: "gone", N: 1}}})
	st, err := boltstore.Open(path, boltstore.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := projection.New(st, nil, counters{name: projA})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.RebuildAll(t.Context(), slices.Values([]added{{Key: "alpha", N: 40}, {Key: "beta", N: 2}})); err != nil {
		t.Fatal(err)
	}
	rt.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, 0, "projections", path).stdout
	if strings.Count(out, projA) != 2 || !strings.Contains(out, projA+": generation 1 is current") || strings.Contains(out, projection.GenerationsBucket) {
		t.Fatalf("projections printed:\n%s\nwant %s listed once with a line about generation 1, and no generation records", out, projA)
	}
	if out := mustRun(t, 0, "keys", path, projA).stdout; !strings.Contains(out, "alpha") || !strings.Contains(out, "beta") || strings.Contains(out, "gone") {
		t.Fatalf("keys printed:\n%s\nwant the current generation's keys alpha and beta", out)
	}
	if out := mustRun(t, 0, "get", path, projA, "alpha").stdout; !strings.Contains(out, `"Count": 40`) {
		t.Fatalf("get printed:\n%s\nwant the rebuilt state", out)
	}
	if out := mustRun(t, 0, "verify", path).stdout; !strings.Contains(out, "in 1 projection(s)") {
		t.Fatalf("verify printed %q; want the projection counted once", out)
	}
}

// Ensure that the bucket of a projection's first generation, emptied once a
// RebuildAll replaced it, is not listed as a projection of its own.
func TestRun_RebuiltProjection_EmptyFirstGenerationNotListed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebuilt.db")
	writeEvents(t, path, map[string][]added{projA: {{Key: "alpha", N: 1}}})
	st, err := boltstore.Open(path, boltstore.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := projection.New(st, nil, counters{name: projA})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.RebuildAll(t.Context(), slices.Values([]added{{Key: "alpha", N: 2}})); err != nil {
		t.Fatal(err)
	}
	// Whether the background removal of generation 0 finished or not, its
	// bucket must not show; wait until it is empty to test the harder case.
	for {
		n := 0
		for _, err := range st.Keys(t.Context(), projA) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	rt.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, 0, "projections", path).stdout
	if strings.Count(out, projA) != 2 {
		t.Fatalf("projections printed:\n%s\nwant %s in one row and one generation line", out, projA)
	}
}
