package main

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// rebuildWorkers is how many goroutines rebuild keys one at a time in the
// per-key variant: as many as the producers of the apply target, so that a
// system that groups commits can.
const rebuildWorkers = 64

// heapInterval is how often the rebuildall cells sample HeapInuse.
const heapInterval = 20 * time.Millisecond

// rebuildAllWorkloads returns the names of the rebuildall rows: the
// throughput and the peak heap of the same jobs.
func rebuildAllWorkloads(cfg config) (throughput, heap string) {
	throughput = fmt.Sprintf("rebuild all: %d events, %d keys", cfg.allEvents, cfg.allKeys)
	return throughput, throughput + ", peak heap"
}

// Names of the ways the rebuildall workload does the job, in its rows'
// system column; byKey marks the history grouped by key.
const (
	viaRebuildAll = "RebuildAll"
	viaApplyBatch = "ApplyBatch(1000)"
	viaPerKey     = "Rebuild per key"
	byKey         = ", grouped by key"
)

func viaSystem(kind, via string) string { return kind + ": " + via }

// rebuildAll replays one history of every key: on livefold through
// ApplyBatch into an empty store then RebuildAll, once in the history's
// order and once grouped by key, and through Rebuild of one key at a time;
// on the other systems, which rebuild one key at a time only, through that. sqlite-normal and bolt-naive run it
// only when -systems names them: their answer is the same as sqlite-full's,
// sooner or later.
func (h *harness) rebuildAll(ctx context.Context) {
	hs := newHistory(h.cfg.allEvents, h.cfg.allKeys)
	h.section(fmt.Sprintf("Rebuild every key: %d events over %d keys, %d per key", hs.events(), hs.keys, hs.rounds))
	for _, k := range h.kinds() {
		switch {
		case k.rebuildsAll:
			h.rebuildAllCells(ctx, k, hs)
		case k.name == baseline || slices.Contains(h.cfg.systems, k.name):
			h.perKeyOnly(ctx, k, hs)
		}
	}
}

// cellResult is what one timed way of doing the job measured.
type cellResult struct {
	elapsed time.Duration
	cores   float64
	peak    heapPeaks
	start   uint64 // HeapInuse after a full collection before the cell
	note    string
}

// timed runs job with the heap sampled, after two full collections so that
// what earlier cells left does not count: the first only moves what
// sync.Pools hold to their victim caches, and bbolt pools a buffer for
// every page its last commit wrote, over 100 MiB after a checkpoint of
// random keys into a file of a million. note is called right after job
// with its elapsed time. With -memprofile it writes heap profiles named
// after cell: before the job and at its largest live heap.
func (h *harness) timed(cell string, job func() error, note func(time.Duration) string) (cellResult, error) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	res := cellResult{start: m.HeapInuse}
	profile := h.cfg.memProfile != ""
	if profile {
		h.writeHeapProfile(cell+"-before", nil)
	}
	heap := sampleHeap(heapInterval, profile)
	clock := startCPU()
	err := job()
	res.elapsed = time.Since(clock.wall)
	res.cores = clock.cores()
	res.peak = heap.Stop()
	res.note = note(res.elapsed)
	if profile {
		h.writeHeapProfile(cell+"-peak", res.peak.profile)
	}
	return res, err
}

// writeHeapProfile writes profile, or the heap profile of now when it is
// nil, to a file named after cell in the -memprofile directory. A profile
// that cannot be written is reported, and the run goes on.
func (h *harness) writeHeapProfile(cell string, profile []byte) {
	name := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return '-'
	}, cell)
	path := filepath.Join(h.cfg.memProfile, name+".pprof")
	if profile == nil {
		var b bytes.Buffer
		if err := pprof.Lookup("heap").WriteTo(&b, 0); err != nil {
			fmt.Fprintf(h.progress, "bench: heap profile %s: %v\n", path, err)
			return
		}
		profile = b.Bytes()
	}
	err := os.MkdirAll(h.cfg.memProfile, 0o755)
	if err == nil {
		err = os.WriteFile(path, profile, 0o644)
	}
	if err != nil {
		fmt.Fprintf(h.progress, "bench: heap profile %s: %v\n", path, err)
	}
}

// recordAll records a cell's throughput and peak heap.
func (h *harness) recordAll(hs history, system, detail string, res cellResult) {
	throughput, heap := rebuildAllWorkloads(h.cfg)
	h.record(row{group: "rebuildall", workload: throughput, system: system,
		value: float64(hs.events()) / res.elapsed.Seconds(), unit: "ev/s", cpu: res.cores, allocs: -1,
		note: fmt.Sprintf("%.1f s; %s; %s", res.elapsed.Seconds(), detail, res.note)})
	h.record(row{group: "rebuildall", workload: heap, system: system,
		value: mib(int64(res.peak.inuse)), unit: "MiB", allocs: -1,
		note: fmt.Sprintf("largest HeapInuse sampled every %v; largest live heap after a GC cycle %.1f MiB; %.1f MiB in use after a full GC before the job",
			heapInterval, mib(int64(res.peak.live)), mib(int64(res.start)))})
}

// rebuildAllCells does the job five ways on two livefold databases: into
// each it loads the history with ApplyBatch and rebuilds every key with
// RebuildAll, on the first in the history's order, on the second grouped by
// key, which it then also rebuilds with Rebuild per key.
func (h *harness) rebuildAllCells(ctx context.Context, k systemKind, hs history) {
	h.livefoldJobs(ctx, k, hs, "", hs.interleaved(), false)
	h.livefoldJobs(ctx, k, hs, byKey, hs.grouped(), true)
}

// livefoldJobs loads events into a new livefold database with ApplyBatch,
// rebuilds every key from them with RebuildAll, and, with perKey, with
// Rebuild per key. Before each rebuild a key gets an event outside the
// history, and before the first a key outside it is added, so the checks
// tell a rebuild from the state it replaced.
func (h *harness) livefoldJobs(ctx context.Context, k systemKind, hs history, order string, events iter.Seq[event], perKey bool) {
	workload, _ := rebuildAllWorkloads(h.cfg)
	path := h.newPath(k.name)
	defer h.removeDB(k, path)
	opts := openOptions{stateBytes: 100}
	sys, err := k.open(path, opts)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("open: %w", err))
		return
	}
	options := fmt.Sprintf("WithRebuildMemory(%d), WithRebuildBatch(%d)", h.cfg.allMemory, h.cfg.allBatch)
	type cell struct {
		via, detail string
		job         func() error
		generation  bool // RebuildAll: a new generation replaces the current one
	}
	cells := []cell{
		{via: viaApplyBatch + order, detail: fmt.Sprintf("into an empty store, batches of %d consecutive events, 1 producer", batchSize),
			job: func() error {
				for batch := range batches(events, batchSize) {
					if err := sys.applyBatch(ctx, batch); err != nil {
						return err
					}
				}
				return nil
			}},
		{via: viaRebuildAll + order, detail: options, generation: true,
			job: func() error { return sys.rebuildAll(ctx, events, h.cfg.allMemory, h.cfg.allBatch) }},
	}
	if perKey {
		cells = append(cells, cell{via: viaPerKey, detail: fmt.Sprintf("%d goroutines, each key's events in one Rebuild, keys in order", rebuildWorkers),
			job: func() error { return rebuildPerKey(ctx, sys, hs) }})
	}
	for i, c := range cells {
		via := viaSystem(k.name, c.via)
		if i > 0 {
			if err := h.perturb(ctx, sys, hs, i == 1); err != nil {
				h.fail(workload, via, err)
				break
			}
		}
		_ = sys.note(time.Second) // the cell's note counts from here
		res, err := h.timed(via, c.job, sys.note)
		detail := c.detail
		if c.generation && err == nil {
			detail += "; " + removal(ctx, sys)
		}
		h.recordAll(hs, via, detail, res)
		if err != nil {
			h.fail(workload, via, err)
			break
		}
		if err := hs.check(ctx, sys, i > 0); err != nil {
			h.fail(workload, via, err)
		}
	}
	if err := sys.close(); err != nil {
		h.fail(workload, k.name, fmt.Errorf("close: %w", err))
		return
	}
	h.reopenAndCheckHistory(ctx, k, path, opts, hs, workload)
}

// removal waits until the generation a RebuildAll replaced is removed, if
// sys can tell, and says how long that took: RebuildAll returns at the
// switch and removes the previous generation in the background, which the
// next cell must not compete with.
func removal(ctx context.Context, sys system) string {
	w, ok := sys.(interface {
		waitReplaced(context.Context, time.Duration) error
	})
	if !ok {
		return "the removal of the previous generation was not observed"
	}
	start := time.Now()
	if err := w.waitReplaced(ctx, 100*time.Millisecond); err != nil {
		return fmt.Sprintf("waiting for the removal of the previous generation: %v", err)
	}
	return fmt.Sprintf("the previous generation was removed in the background %.1f s after it returned", time.Since(start).Seconds())
}

// perKeyOnly does the job the only way a system without a rebuild of every
// key can: it stores one event per key (untimed), so that every rebuild
// replaces a row, then rebuilds key after key from the history grouped by
// key, on rebuildWorkers goroutines.
func (h *harness) perKeyOnly(ctx context.Context, k systemKind, hs history) {
	workload, _ := rebuildAllWorkloads(h.cfg)
	path := h.newPath(k.name)
	defer h.removeDB(k, path)
	opts := openOptions{stateBytes: 100}
	sys, err := k.open(path, opts)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("open: %w", err))
		return
	}
	closed := false
	defer func() {
		if !closed {
			_ = sys.close()
		}
	}()
	batch := make([]event, 0, batchSize)
	for key := range hs.keys {
		batch = append(batch, event{Key: keyName(key), Amount: 1000})
		if len(batch) == cap(batch) || key == hs.keys-1 {
			if err := sys.applyBatch(ctx, batch); err != nil {
				h.fail(workload, k.name, fmt.Errorf("loading one event per key: %w", err))
				return
			}
			batch = batch[:0]
		}
	}
	_ = sys.note(time.Second)
	res, err := h.timed(k.name, func() error { return rebuildPerKey(ctx, sys, hs) }, sys.note)
	h.recordAll(hs, k.name, fmt.Sprintf("its rebuild of one key, on %d goroutines, each key's events in one rebuild, over a row per key", rebuildWorkers), res)
	if err != nil {
		h.fail(workload, k.name, err)
		return
	}
	if err := hs.check(ctx, sys, false); err != nil {
		h.fail(workload, k.name, err)
	}
	closed = true
	if err := sys.close(); err != nil {
		h.fail(workload, k.name, fmt.Errorf("close: %w", err))
		return
	}
	h.reopenAndCheckHistory(ctx, k, path, opts, hs, workload)
}

// perturb changes key 0 with an event outside the history and, with stale,
// adds a key outside it.
func (h *harness) perturb(ctx context.Context, sys system, hs history, stale bool) error {
	if err := sys.apply(ctx, event{Key: keyName(0), Amount: 1000}); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if stale {
		if err := sys.apply(ctx, event{Key: hs.staleKey(), Amount: 1}); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
	}
	return nil
}

// rebuildPerKey rebuilds every key of hs from its events, key after key,
// on rebuildWorkers goroutines, and returns the first error.
func rebuildPerKey(ctx context.Context, sys system, hs history) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var errOnce sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range rebuildWorkers {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= hs.keys {
					return
				}
				if err := sys.rebuild(ctx, keyName(k), hs.ofKey(k)); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("rebuild %s: %w", keyName(k), err); cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// reopenAndCheckHistory opens path again, checks it against hs and closes it.
func (h *harness) reopenAndCheckHistory(ctx context.Context, k systemKind, path string, o openOptions, hs history, workload string) {
	sys, err := k.open(path, o)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("reopen: %w", err))
		return
	}
	if err := hs.check(ctx, sys, k.rebuildsAll); err != nil {
		h.fail(workload, k.name, fmt.Errorf("after reopen: %w", err))
	}
	if err := sys.close(); err != nil {
		h.fail(workload, k.name, fmt.Errorf("close after reopen: %w", err))
	}
}
