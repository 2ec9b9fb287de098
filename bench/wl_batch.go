package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// batchSize is the number of events per ApplyBatch.
const batchSize = 1000

func (h *harness) batch(ctx context.Context) {
	h.section("durable ApplyBatch of 1000 events")
	keys := keyNames(h.cfg.keys)
	for _, p := range []int{1, 4} {
		workload := fmt.Sprintf("applybatch(%d) p=%d keys=%d", batchSize, p, len(keys))
		for _, k := range h.kinds() {
			h.batchCell(ctx, k, workload, p, keys)
		}
	}
}

// batchCell runs producers that each apply batches of random events for the
// configured duration, then checks every key, also after a reopen.
func (h *harness) batchCell(ctx context.Context, k systemKind, workload string, producers int, keys []string) {
	path := h.newPath(k.name)
	defer h.removeDB(k, path)
	opts := openOptions{stateBytes: 100}
	sys, err := k.open(path, opts)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("open: %w", err))
		return
	}
	t := newTally(len(keys))
	var stop atomic.Bool
	timer := time.AfterFunc(h.cfg.duration, func() { stop.Store(true) })
	defer timer.Stop()

	var events atomic.Int64
	var firstErr error
	var errOnce sync.Once
	syncs := sys.syncs()
	clock := startCPU()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 0x2545f4914f6cdd1d))
			batch := make([]event, batchSize)
			idx := make([]int, batchSize)
			// Every producer commits at least once, so that a system
			// slower than a short cell still has a rate and something to
			// check.
			for first := true; first || !stop.Load(); first = false {
				for i := range batch {
					idx[i] = rng.IntN(len(keys))
					batch[i] = event{Key: keys[idx[i]], Amount: 1 + rng.Int64N(9)}
				}
				if err := sys.applyBatch(ctx, batch); err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					return
				}
				for i, e := range batch {
					t.add(idx[i], e.Amount)
				}
				events.Add(batchSize)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(clock.wall)
	cores := clock.cores()
	syncs = sys.syncs() - syncs
	if firstErr != nil {
		h.fail(workload, k.name, fmt.Errorf("applyBatch: %w", firstErr))
	}
	h.record(row{group: "batch", workload: workload, system: k.name,
		value: float64(events.Load()) / elapsed.Seconds(), unit: "ev/s", cpu: cores, allocs: -1, note: sys.note(elapsed),
		syncs: float64(syncs) / elapsed.Seconds()})
	if err := h.checkKeys(ctx, sys, t, true); err != nil {
		h.fail(workload, k.name, err)
	}
	if err := sys.close(); err != nil {
		h.fail(workload, k.name, fmt.Errorf("close: %w", err))
		return
	}
	h.reopenAndCheck(ctx, k, path, opts, t, true, workload)
}
