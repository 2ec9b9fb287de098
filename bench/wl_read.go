package main

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

func (h *harness) reads(ctx context.Context) {
	h.section("Read from one goroutine on one core")
	n := h.cfg.keys
	hot := min(n, 1000)
	for _, k := range h.kinds() {
		// cached: a working set of hot keys that fits livefold's cache.
		h.readCell(ctx, k, fmt.Sprintf("read cached (%d hot keys)", hot), n, hot, openOptions{stateBytes: 100})
		// uncached: a cache of one key per shard, so nearly every read
		// loads and decodes the snapshot from the store.
		h.readCell(ctx, k, fmt.Sprintf("read uncached (%d keys)", n), n, n, openOptions{stateBytes: 100, cacheSize: 1})
	}
}

// readCell loads keys 0..n-1, then reads keys 0..working-1 round robin from
// one goroutine with GOMAXPROCS=1 for the configured duration, checking
// every read.
func (h *harness) readCell(ctx context.Context, k systemKind, workload string, n, working int, opts openOptions) {
	path := h.newPath(k.name)
	defer h.removeDB(k, path)
	sys, err := k.open(path, opts)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("open: %w", err))
		return
	}
	defer func() {
		if err := sys.close(); err != nil {
			h.fail(workload, k.name, fmt.Errorf("close: %w", err))
		}
	}()
	t, err := load(ctx, sys, n)
	if err != nil {
		h.fail(workload, k.name, fmt.Errorf("load: %w", err))
		return
	}
	// Warm up: one pass over the working set.
	for i := range working {
		if _, _, _, err := sys.read(ctx, keyName(i)); err != nil {
			h.fail(workload, k.name, err)
			return
		}
	}
	keys := keyNames(working)

	prev := runtime.GOMAXPROCS(1)
	reads, elapsed, cores, err := readLoop(ctx, sys, t, keys, h.cfg.duration)
	runtime.GOMAXPROCS(prev)
	if err != nil {
		h.fail(workload, k.name, err)
	}
	h.record(row{group: "read", workload: workload, system: k.name,
		value: float64(reads) / elapsed.Seconds(), unit: "reads/s", cpu: cores, allocs: -1,
		note: fmt.Sprintf("%.0f ns/read", float64(elapsed.Nanoseconds())/float64(max(reads, 1)))})
}

// readLoop reads keys round robin until d has passed, checking each read
// against t, and stops at the first wrong answer.
func readLoop(ctx context.Context, sys system, t *tally, keys []string, d time.Duration) (reads int, elapsed time.Duration, cores float64, err error) {
	clock := startCPU()
	deadline := clock.wall.Add(d)
	for i := 0; ; i++ {
		// Looking at the clock every 256 reads keeps its cost out of the
		// figure.
		if i&255 == 0 && time.Now().After(deadline) {
			break
		}
		ki := i % len(keys)
		st, version, ok, rerr := sys.read(ctx, keys[ki])
		if rerr != nil {
			err = fmt.Errorf("read %s: %w", keys[ki], rerr)
			break
		}
		if cerr := t.expect(ki, st, version, ok); cerr != nil {
			err = cerr
			break
		}
		reads++
	}
	return reads, time.Since(clock.wall), clock.cores(), err
}

// load gives key i of 0..n-1 1+i%3 events through batches, and returns the
// tally of what was applied.
func load(ctx context.Context, sys system, n int) (*tally, error) {
	t := newTally(n)
	batch := make([]event, 0, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := sys.applyBatch(ctx, batch)
		batch = batch[:0]
		return err
	}
	for i := range n {
		for j := range 1 + i%3 {
			amount := int64(1 + (i+j)%9)
			batch = append(batch, event{Key: keyName(i), Amount: amount})
			t.add(i, amount)
			if len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
	}
	return t, flush()
}
