package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// applySpec is one timed cell of durable single-event applies.
type applySpec struct {
	group, workload string
	producers       int
	keys            []string
	opts            openOptions
	// checkAll reads every key of the key space in the check, also those no
	// event reached; otherwise only keys that got events are read.
	checkAll bool
	// base is the system the rows are compared to; "" for baseline.
	base string
}

func (h *harness) applySweep(ctx context.Context) {
	h.section("durable Apply, producers over a key space")
	keys := keyNames(h.cfg.keys)
	for _, p := range h.cfg.producers {
		h.applyAll(ctx, applySpec{group: "apply", workload: fmt.Sprintf("apply p=%d keys=%d", p, len(keys)),
			producers: p, keys: keys, opts: openOptions{stateBytes: 100}, checkAll: true})
	}
}

func (h *harness) hotKey(ctx context.Context) {
	h.section("durable Apply, 64 producers on one hot key")
	h.applyAll(ctx, applySpec{group: "hotkey", workload: "apply p=64 keys=1 (hot key)",
		producers: 64, keys: keyNames(1), opts: openOptions{stateBytes: 100}, checkAll: true})
}

func (h *harness) manyKeys(ctx context.Context) {
	h.section("durable Apply, 64 producers over a large key space")
	h.applyAll(ctx, applySpec{group: "manykeys", workload: fmt.Sprintf("apply p=64 keys=%d", h.cfg.manyKeys),
		producers: 64, keys: keyNames(h.cfg.manyKeys), opts: openOptions{stateBytes: 100}})
}

func (h *harness) bigState(ctx context.Context) {
	h.section("durable Apply, 10 KB states")
	keys := keyNames(h.cfg.keys)
	for _, p := range []int{1, 64} {
		h.applyAll(ctx, applySpec{group: "bigstate", workload: fmt.Sprintf("apply p=%d keys=%d state=10KB", p, len(keys)),
			producers: p, keys: keys, opts: openOptions{stateBytes: 10_000}, checkAll: true})
	}
}

func (h *harness) applyAll(ctx context.Context, s applySpec) {
	for _, k := range h.kinds() {
		h.applyCell(ctx, k, s)
	}
}

// applyCell runs s.producers goroutines applying events to random keys for
// the configured duration, then checks every key against what was
// acknowledged, before and after reopening the database.
func (h *harness) applyCell(ctx context.Context, k systemKind, s applySpec) {
	path := h.newPath(k.name)
	defer h.removeDB(k, path)
	sys, err := k.open(path, s.opts)
	if err != nil {
		h.fail(s.workload, k.name, fmt.Errorf("open: %w", err))
		return
	}
	t := newTally(len(s.keys))
	var stop atomic.Bool
	timer := time.AfterFunc(h.cfg.duration, func() { stop.Store(true) })
	defer timer.Stop()

	var events atomic.Int64
	var firstErr error
	var errOnce sync.Once
	syncs := sys.syncs()
	clock := startCPU()
	var wg sync.WaitGroup
	for p := range s.producers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 0x9e3779b97f4a7c15))
			n := int64(0)
			// Every producer commits at least once, so that a system
			// slower than a short cell still has a rate and something to
			// check.
			for first := true; first || !stop.Load(); first = false {
				ki := rng.IntN(len(s.keys))
				amount := 1 + rng.Int64N(9)
				if err := sys.apply(ctx, event{Key: s.keys[ki], Amount: amount}); err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					break
				}
				t.add(ki, amount)
				n++
			}
			events.Add(n)
		})
	}
	wg.Wait()
	elapsed := time.Since(clock.wall)
	cores := clock.cores()
	syncs = sys.syncs() - syncs
	note := sys.note(elapsed)
	if firstErr != nil {
		h.fail(s.workload, k.name, fmt.Errorf("apply: %w", firstErr))
	}
	h.record(row{group: s.group, workload: s.workload, system: k.name, base: s.base,
		value: float64(events.Load()) / elapsed.Seconds(), unit: "ev/s", cpu: cores, allocs: -1, note: note,
		syncs: float64(syncs) / elapsed.Seconds()})

	if err := h.checkKeys(ctx, sys, t, s.checkAll); err != nil {
		h.fail(s.workload, k.name, err)
	}
	if err := sys.close(); err != nil {
		h.fail(s.workload, k.name, fmt.Errorf("close: %w", err))
		return
	}
	h.reopenAndCheck(ctx, k, path, s.opts, t, s.checkAll, s.workload)
}

// reopenAndCheck opens path again, after the caller closed it, checks the
// keys against t, and closes it.
func (h *harness) reopenAndCheck(ctx context.Context, k systemKind, path string, o openOptions, t *tally, all bool, workload string) {
	sys, err := k.open(path, o)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("reopen: %w", err))
		return
	}
	if err := h.checkKeys(ctx, sys, t, all); err != nil {
		h.fail(workload, k.name, fmt.Errorf("after reopen: %w", err))
	}
	if err := sys.close(); err != nil {
		h.fail(workload, k.name, fmt.Errorf("close after reopen: %w", err))
	}
}

// checkKeys reads keys through sys and compares each with t: sum, count and
// version. With all false, only keys that got events are read.
func (h *harness) checkKeys(ctx context.Context, sys system, t *tally, all bool) error {
	var errs []error
	for i := range t.counts {
		if !all && t.counts[i].Load() == 0 {
			continue
		}
		st, version, ok, err := sys.read(ctx, keyName(i))
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", keyName(i), err))
			continue
		}
		if err := t.expect(i, st, version, ok); err != nil {
			errs = append(errs, err)
		}
	}
	if n, _ := t.total(); n == 0 {
		errs = append(errs, fmt.Errorf("no event was acknowledged"))
	}
	return firstErrors(errs)
}
