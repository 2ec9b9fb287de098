package main

import (
	"context"
	"fmt"
	"iter"
	"time"
)

func (h *harness) rebuild(ctx context.Context) {
	n := h.cfg.rebuildEvents
	h.section(fmt.Sprintf("Rebuild one key from %d events", n))
	workload := fmt.Sprintf("rebuild 1 key from %d events", n)
	for _, k := range h.kinds() {
		h.rebuildCell(ctx, k, workload, n)
	}
}

// rebuildEvents yields n events of key, with amounts 1..9 in turn.
func rebuildEvents(key string, n int) iter.Seq[event] {
	return func(yield func(event) bool) {
		for i := range n {
			if !yield(event{Key: key, Amount: int64(1 + i%9)}) {
				return
			}
		}
	}
}

// rebuildCell applies a few events to a key, rebuilds it from n events, and
// checks that the rebuilt snapshot replaced the old one, before and after a
// reopen.
func (h *harness) rebuildCell(ctx context.Context, k systemKind, workload string, n int) {
	path := h.newPath(k.name)
	defer h.removeDB(k, path)
	opts := openOptions{stateBytes: 100}
	sys, err := k.open(path, opts)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("open: %w", err))
		return
	}
	key := keyName(0)
	for range 3 { // an old snapshot the rebuild must replace
		if err := sys.apply(ctx, event{Key: key, Amount: 1000}); err != nil {
			h.fail(workload, k.name, fmt.Errorf("apply: %w", err))
		}
	}
	t := newTally(1)
	for e := range rebuildEvents(key, n) {
		t.add(0, e.Amount)
	}

	clock := startCPU()
	err = sys.rebuild(ctx, key, rebuildEvents(key, n))
	elapsed := time.Since(clock.wall)
	cores := clock.cores()
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("rebuild: %w", err))
	}
	h.record(row{group: "rebuild", workload: workload, system: k.name,
		value: float64(n) / elapsed.Seconds(), unit: "ev/s", cpu: cores, allocs: -1,
		note: fmt.Sprintf("%.1f ms for the rebuild", float64(elapsed.Microseconds())/1000)})
	if err := h.checkKeys(ctx, sys, t, true); err != nil {
		h.fail(workload, k.name, err)
	}
	if err := sys.close(); err != nil {
		h.fail(workload, k.name, fmt.Errorf("close: %w", err))
		return
	}
	h.reopenAndCheck(ctx, k, path, opts, t, true, workload)
}
