package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/livefold/livefold/projection"
)

// allGroups returns the workload groups in the order they run; -only
// selects some.
func allGroups() []string {
	return []string{"apply", "hotkey", "manykeys", "bigstate", "batch", "read", "rebuild", "rebuildall", "memory", "fanout", "idle", "postgres"}
}

// config is what the flags ask for.
type config struct {
	duration      time.Duration // length of every timed cell
	keys          int           // key space of the apply and read workloads
	manyKeys      int           // key space of "manykeys" and keys loaded by "memory"
	rebuildEvents int           // events folded by one rebuild
	allEvents     int           // events of the history "rebuildall" replays
	allKeys       int           // keys of that history
	allMemory     int           // RebuildAll's WithRebuildMemory
	allBatch      int           // RebuildAll's WithRebuildBatch
	producers     []int         // producer counts of the "apply" sweep
	fanoutTotal   int           // deliveries per fan-out cell
	idleSubs      int           // idle subscriptions in "idle"
	only          []string      // workload groups to run; all when empty
	systems       []string      // systems to run; all when empty
	dir           string        // parent of the temporary directory
	strict        bool          // exit non-zero on a missed target too
	cpuProfile    string        // file to write a CPU profile of the run to
	memProfile    string        // directory for heap profiles of the rebuildall cells
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	short := fs.Bool("short", false, "smoke run with small counts, a few seconds in all (for CI)")
	duration := fs.Duration("duration", 0, "length of every timed cell (default 3s, 30ms with -short)")
	keys := fs.Int("keys", 10_000, "key space of the apply and read workloads")
	manyKeys := fs.Int("many-keys", 0, "keys of the large key-space and memory workloads (default 1,000,000, 44,000 with -short)")
	rebuild := fs.Int("rebuild-events", 0, "events folded by one rebuild (default 1,000,000, 20,000 with -short)")
	allEvents := fs.Int("rebuildall-events", 0, "events of the history the rebuildall workload replays, a multiple of -rebuildall-keys (default 10,000,000, 5,000 with -short)")
	allKeys := fs.Int("rebuildall-keys", 0, "keys of that history (default 1,000,000, 500 with -short)")
	allMemory := fs.Int("rebuildall-memory", 0, "RebuildAll's WithRebuildMemory (default projection.DefaultRebuildMemory, at most a quarter of the keys)")
	allBatch := fs.Int("rebuildall-batch", 0, "RebuildAll's WithRebuildBatch (default projection.DefaultRebuildBatch)")
	fanout := fs.Int("fanout-deliveries", 0, "deliveries per fan-out cell (default 4,000,000, 100,000 with -short)")
	idle := fs.Int("idle-subs", 10_000, "idle subscriptions in the idle workload")
	only := fs.String("only", "", "comma-separated workload groups to run: "+strings.Join(allGroups(), ","))
	systems := fs.String("systems", "", "comma-separated systems to run (default all but livefold-nofreelistsync): "+strings.Join(systemNames(), ","))
	dir := fs.String("dir", "", "directory for the temporary databases (default the system's temp dir)")
	strict := fs.Bool("strict", false, "exit with status 2 when a target is missed")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := fs.String("memprofile", "", "write heap profiles of each rebuildall cell to this directory: before the job and at its largest live heap")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	c := config{
		duration:      3 * time.Second,
		keys:          *keys,
		manyKeys:      1_000_000,
		rebuildEvents: 1_000_000,
		allEvents:     10_000_000,
		allKeys:       1_000_000,
		allBatch:      projection.DefaultRebuildBatch,
		producers:     []int{1, 4, 16, 64, 256},
		fanoutTotal:   4_000_000,
		idleSubs:      *idle,
		dir:           *dir,
		strict:        *strict,
		cpuProfile:    *cpuProfile,
		memProfile:    *memProfile,
	}
	if *short {
		c.duration, c.manyKeys, c.rebuildEvents, c.fanoutTotal = 30*time.Millisecond, 44_000, 20_000, 100_000
		c.allEvents, c.allKeys = 5_000, 500
		c.keys = min(c.keys, 500)
	}
	if *duration > 0 {
		c.duration = *duration
	}
	if *manyKeys > 0 {
		c.manyKeys = *manyKeys
	}
	if *rebuild > 0 {
		c.rebuildEvents = *rebuild
	}
	if *allEvents > 0 {
		c.allEvents = *allEvents
	}
	if *allKeys > 0 {
		c.allKeys = *allKeys
	}
	c.allMemory = min(projection.DefaultRebuildMemory, max(1, c.allKeys/4))
	if *allMemory > 0 {
		c.allMemory = *allMemory
	}
	if *allBatch > 0 {
		c.allBatch = *allBatch
	}
	if *fanout > 0 {
		c.fanoutTotal = *fanout
	}
	var err error
	if c.only, err = splitList(*only, allGroups(), "workload group"); err != nil {
		return config{}, err
	}
	if c.systems, err = splitList(*systems, systemNames(), "system"); err != nil {
		return config{}, err
	}
	if c.keys < 1 || c.manyKeys < 1000 || c.rebuildEvents < 1 || c.idleSubs < 0 || c.fanoutTotal < 1000 {
		return config{}, fmt.Errorf("counts out of range: -keys >= 1, -many-keys >= 1000, -rebuild-events >= 1, -fanout-deliveries >= 1000")
	}
	if c.allKeys < 1 || c.allEvents < c.allKeys || c.allEvents%c.allKeys != 0 {
		return config{}, fmt.Errorf("-rebuildall-events must be a positive multiple of -rebuildall-keys")
	}
	return c, nil
}

// splitList parses a comma-separated list and refuses names not in known.
func splitList(s string, known []string, what string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("unknown %s %q (known: %s)", what, name, strings.Join(known, ","))
		}
		out = append(out, name)
	}
	return out, nil
}

func (c config) runs(group string) bool { return len(c.only) == 0 || slices.Contains(c.only, group) }

// uses reports whether a system runs: when -systems names it, or, for a
// system that is not optional, when -systems is not given.
func (c config) uses(system string, optional bool) bool {
	if len(c.systems) == 0 {
		return !optional
	}
	return slices.Contains(c.systems, system)
}
