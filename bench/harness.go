package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// harness runs the selected workloads and collects their rows and failed
// checks. It is used by one goroutine; workloads wait for every goroutine
// they start.
type harness struct {
	cfg      config
	dir      string // temporary directory holding every database
	progress io.Writer
	rows     []row
	failures []string
	notes    []string      // lines the report prints under the table
	files    int           // databases created so far, to name the next
	fsync    time.Duration // median latency of a 4 KiB write and fsync in dir
	probes   []syncProbe   // the sync limit around each group that ran, in order
	probeLen time.Duration // how long each sync probe runs
	busWait  time.Duration // how long fan-out subscribers may lag the last publish
}

func newHarness(cfg config, progress io.Writer) (*harness, error) {
	dir, err := os.MkdirTemp(cfg.dir, "livefold-bench-")
	if err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, dir: dir, progress: progress, busWait: busDeadline, probeLen: probeLength(cfg.duration)}
	if h.fsync, err = probeFsync(dir, 100); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return h, nil
}

// close removes every database the harness created.
func (h *harness) close() error { return os.RemoveAll(h.dir) }

// run runs every selected workload group in order.
func (h *harness) run(ctx context.Context) {
	workloads := map[string]func(context.Context){
		"apply":      h.applySweep,
		"hotkey":     h.hotKey,
		"manykeys":   h.manyKeys,
		"bigstate":   h.bigState,
		"batch":      h.batch,
		"read":       h.reads,
		"rebuild":    h.rebuild,
		"rebuildall": h.rebuildAll,
		"memory":     h.memory,
		"fanout":     h.fanout,
		"idle":       h.idle,
		"postgres":   h.postgres,
	}
	for _, g := range allGroups() {
		if !h.cfg.runs(g) || ctx.Err() != nil {
			continue
		}
		start := time.Now()
		before := h.probeSyncs(g, "before")
		first := len(h.rows)
		workloads[g](ctx)
		p := syncProbe{group: g, before: before, after: h.probeSyncs(g, "after")}
		h.probes = append(h.probes, p)
		for i := first; i < len(h.rows); i++ {
			h.rows[i].syncLimit = p.limit()
		}
		fmt.Fprintf(h.progress, "   (%s took %v)\n", g, time.Since(start).Round(time.Millisecond))
	}
}

// probeSyncs measures the sync limit of the databases' directory, when
// (before or after) group runs, and returns it in syncs per second. A
// failed probe is a failed check: the figures next to it would be
// meaningless.
func (h *harness) probeSyncs(group, when string) float64 {
	rate, err := probeSyncRate(h.dir, h.probeLen)
	if err != nil {
		h.fail(group, "fdatasync probe", err)
		return 0
	}
	fmt.Fprintf(h.progress, "  fdatasync probe %s %s: %s syncs/s\n", when, group, humanize(rate))
	return rate
}

// kinds returns the selected systems.
func (h *harness) kinds() []systemKind {
	var out []systemKind
	for _, k := range systemKinds() {
		if h.cfg.uses(k.name, k.optional) {
			out = append(out, k)
		}
	}
	return out
}

// newPath returns a fresh database path for system.
func (h *harness) newPath(system string) string {
	h.files++
	return filepath.Join(h.dir, fmt.Sprintf("%03d-%s.db", h.files, system))
}

// removeDB deletes a database's files, or its table on a server, once a
// cell is done with it, so that a full run does not fill the disk.
func (h *harness) removeDB(k systemKind, path string) {
	for _, f := range k.files(path) {
		_ = os.Remove(f)
	}
	if k.remove != nil {
		if err := k.remove(path); err != nil {
			fmt.Fprintf(h.progress, "  removing %s: %v\n", path, err)
		}
	}
}

func (h *harness) record(r row) {
	h.rows = append(h.rows, r)
	fmt.Fprintf(h.progress, "  %-34s %-14s %14s %s\n", r.workload, r.system, humanize(r.value), r.unit)
}

// fail records a failed check.
func (h *harness) fail(workload, system string, err error) {
	msg := fmt.Sprintf("%s / %s: %v", workload, system, err)
	h.failures = append(h.failures, msg)
	fmt.Fprintln(h.progress, "  CHECK FAILED:", msg)
}

// note adds a line to the report, under the table.
func (h *harness) note(line string) {
	h.notes = append(h.notes, line)
	fmt.Fprintln(h.progress, " ", line)
}

func (h *harness) section(name string) {
	fmt.Fprintf(h.progress, "== %s\n", name)
}

// firstErrors joins at most a few errors into one, counting the rest.
func firstErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	const show = 3
	var parts []string
	for i, err := range errs {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-show))
			break
		}
		parts = append(parts, err.Error())
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}
