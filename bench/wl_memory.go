package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// memSample is how many keys, spread over the key space, the memory workload
// reads back after a reopen: reading all of a million keys from every system
// would cost more than the workload itself.
const memSample = 20_000

func (h *harness) memory(ctx context.Context) {
	n := h.cfg.manyKeys
	h.section(fmt.Sprintf("memory and file size: %d distinct keys, %d updates over %d keys", n, n, h.cfg.keys))
	// sqlite-normal differs from sqlite-full only in when it syncs, which
	// changes neither the heap nor the file, so it is left out here.
	var kinds []systemKind
	for _, k := range h.kinds() {
		if k.name != "sqlite-normal" {
			kinds = append(kinds, k)
		}
	}
	for _, k := range kinds {
		h.distinctKeys(ctx, k, n)
	}
	for _, k := range kinds {
		h.updatesFileSize(ctx, k, n, h.cfg.keys)
	}
}

// distinctKeys applies one event to each of n new keys in batches of 1000
// and measures the Go heap after a full GC at a quarter, half and all of the
// keys, then the size of the closed database file.
func (h *harness) distinctKeys(ctx context.Context, k systemKind, n int) {
	workload := fmt.Sprintf("heap after %d distinct keys", n)
	growth := fmt.Sprintf("heap growth from %d to %d keys", n/4, n)
	size := fmt.Sprintf("file size after %d distinct keys", n)
	path := h.newPath(k.name)
	defer h.removeDB(k, path)
	opts := openOptions{stateBytes: 100}

	before := heapAfterGC()
	sys, err := k.open(path, opts)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("open: %w", err))
		return
	}
	amount := func(i int) int64 { return int64(1 + i%9) }
	checkpoints := map[int]uint64{}
	batch := make([]event, 0, batchSize)
	clock := startCPU()
	for i := range n {
		batch = append(batch, event{Key: keyName(i), Amount: amount(i)})
		if len(batch) == cap(batch) || i == n-1 {
			if err := sys.applyBatch(ctx, batch); err != nil {
				h.fail(workload, k.name, fmt.Errorf("applyBatch: %w", err))
				_ = sys.close()
				return
			}
			batch = batch[:0]
		}
		if c := i + 1; c == n/4 || c == n/2 || c == n {
			checkpoints[c] = heapAfterGC()
		}
	}
	elapsed := time.Since(clock.wall)
	note := sys.note(elapsed)
	if err := sys.close(); err != nil {
		h.fail(workload, k.name, fmt.Errorf("close: %w", err))
		return
	}
	quarter, half, all := checkpoints[n/4], checkpoints[n/2], checkpoints[n]
	h.record(row{group: "memory", workload: workload, system: k.name, value: mib(int64(all) - int64(before)), unit: "MiB",
		allocs: -1, note: fmt.Sprintf("heap above the start: %.1f MiB at %d keys, %.1f at %d; load: %s",
			mib(int64(quarter)-int64(before)), n/4, mib(int64(half)-int64(before)), n/2, note)})
	h.record(row{group: "memory", workload: growth, system: k.name,
		value: float64(int64(all)-int64(quarter)) / float64(n-n/4), unit: "B/key", allocs: -1,
		note: fmt.Sprintf("%.1f MiB more over %d keys", mib(int64(all)-int64(quarter)), n-n/4)})
	h.record(row{group: "memory", workload: size, system: k.name, value: mib(filesSize(k.files(path))), unit: "MiB",
		allocs: -1, note: fmt.Sprintf("after close; %.1f MiB allocated on disk", mib(diskUsage(k.files(path))))})
	h.compacted(k, path, size)

	// Read back a sample spread over the key space.
	t := newTally(n)
	step := max(1, n/memSample)
	for i := 0; i < n; i += step {
		t.add(i, amount(i))
	}
	h.reopenAndCheck(ctx, k, path, opts, t, false, workload)
}

// updatesFileSize applies n events over keys keys in batches of 1000 and
// measures the closed file, then reads every key back.
func (h *harness) updatesFileSize(ctx context.Context, k systemKind, n, keys int) {
	workload := fmt.Sprintf("file size after %d updates of %d keys", n, keys)
	path := h.newPath(k.name)
	defer h.removeDB(k, path)
	opts := openOptions{stateBytes: 100}
	sys, err := k.open(path, opts)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("open: %w", err))
		return
	}
	t := newTally(keys)
	batch := make([]event, 0, batchSize)
	for i := range n {
		ki := i % keys
		amount := int64(1 + i%9)
		batch = append(batch, event{Key: keyName(ki), Amount: amount})
		t.add(ki, amount)
		if len(batch) == cap(batch) || i == n-1 {
			if err := sys.applyBatch(ctx, batch); err != nil {
				h.fail(workload, k.name, fmt.Errorf("applyBatch: %w", err))
				_ = sys.close()
				return
			}
			batch = batch[:0]
		}
	}
	if err := sys.close(); err != nil {
		h.fail(workload, k.name, fmt.Errorf("close: %w", err))
		return
	}
	h.record(row{group: "memory", workload: workload, system: k.name, value: mib(filesSize(k.files(path))), unit: "MiB",
		allocs: -1, note: fmt.Sprintf("after close; %.1f MiB allocated on disk", mib(diskUsage(k.files(path))))})
	h.compacted(k, path, workload)
	h.reopenAndCheck(ctx, k, path, opts, t, true, workload)
}

// compacted records, for a livefold system, the size of a compacted copy of
// its closed file beside the file's own (row workload).
func (h *harness) compacted(k systemKind, path, workload string) {
	if !strings.HasPrefix(k.name, "livefold") {
		return
	}
	n, err := compactedSize(path)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("compact: %w", err))
		return
	}
	h.record(row{group: "memory", workload: workload + ", compacted", system: k.name, value: mib(n), unit: "MiB",
		allocs: -1, note: "a copy written by bbolt's Compact, as livefold compact writes it"})
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
