package main

import "fmt"

// targets returns the bars livefold is held to, for the workloads cfg runs.
func targets(cfg config) []target {
	faster := func(factor, floor float64) func(row, []row) bool {
		return func(r row, rows []row) bool {
			if r.value < floor {
				return false
			}
			if factor == 0 {
				return true
			}
			v, ok := ratio(rows, r)
			return ok && v >= factor
		}
	}
	atLeast := func(floor float64) func(row, []row) bool { return faster(0, floor) }
	// beats holds livefold to factor times a peer's row of the same cell.
	beats := func(workload, peer string, factor float64) target {
		return target{workload: workload, system: "livefold", needs: peer,
			text: fmt.Sprintf(">= %.1fx %s", factor, peer), met: func(r row, rows []row) bool {
				v, ok := peerRatio(rows, r, peer)
				return ok && v >= factor
			}}
	}
	// beatsPebbleBatch holds livefold's ApplyBatch to factor times the
	// faster of Pebble's two forms of a batch.
	beatsPebbleBatch := func(workload string, factor float64) target {
		return target{workload: workload, system: "livefold", needs: pebbleSync,
			text: fmt.Sprintf(">= %.1fx Pebble's batch (the faster of %s, %s)", factor, pebbleSync, pebbleNoSyncWait),
			met: func(r row, rows []row) bool {
				best := 0.0
				for _, p := range []string{pebbleSync, pebbleNoSyncWait} {
					if pr := findRow(rows, workload, p); pr != nil && pr.unit == r.unit {
						best = max(best, pr.value)
					}
				}
				return best > 0 && r.value >= factor*best
			}}
	}
	n := cfg.manyKeys
	keys := cfg.keys
	idleRow := fmt.Sprintf("publish+receive, %d idle subscriptions", cfg.idleSubs)
	allRow, allHeap := rebuildAllWorkloads(cfg)
	apply := func(p int) string { return fmt.Sprintf("apply p=%d keys=%d", p, keys) }
	batch := func(p int) string { return fmt.Sprintf("applybatch(%d) p=%d keys=%d", batchSize, p, keys) }
	const hot = "apply p=64 keys=1 (hot key)"
	return []target{
		{workload: fmt.Sprintf("apply p=64 keys=%d", keys), system: "livefold",
			text: ">= 20x sqlite-full and >= 100,000 ev/s", met: faster(20, 100_000)},
		{workload: "apply p=64 keys=1 (hot key)", system: "livefold",
			text: ">= 50,000 ev/s", met: atLeast(50_000)},
		{workload: fmt.Sprintf("pg apply p=64 keys=%d", keys), system: "pgstore",
			text: ">= 10x pg-naive", met: faster(10, 0)},
		{workload: "pg apply p=64 keys=1 (hot key)", system: "pgstore",
			text: ">= 10x pg-naive", met: faster(10, 0)},
		{workload: fmt.Sprintf("apply p=1 keys=%d", keys), system: "livefold",
			text: ">= 1x sqlite-full", met: faster(1, 0)},
		{workload: fmt.Sprintf("applybatch(%d) p=1 keys=%d", batchSize, keys), system: "livefold",
			text: ">= 300,000 ev/s", met: atLeast(300_000)},
		{workload: fmt.Sprintf("applybatch(%d) p=4 keys=%d", batchSize, keys), system: "livefold",
			text: ">= 300,000 ev/s", met: atLeast(300_000)},
		{workload: fmt.Sprintf("read cached (%d hot keys)", min(keys, 1000)), system: "livefold",
			text: ">= 2,000,000 reads/s", met: atLeast(2_000_000)},
		{workload: fmt.Sprintf("heap growth from %d to %d keys", n/4, n), system: "livefold",
			text: "bounded: < 16 B/key or < 4 MiB in all", met: func(r row, _ []row) bool {
				return r.value < 16 || r.value*float64(n-n/4) < 4<<20
			}},
		rebuildAllFaster(allRow, ""),
		rebuildAllFaster(allRow, byKey),
		{workload: allHeap, system: viaSystem("livefold", viaRebuildAll),
			text: "< 256 MiB", met: func(r row, _ []row) bool { return r.value < 256 }},
		{workload: allHeap, system: viaSystem("livefold", viaRebuildAll+byKey),
			text: "< 256 MiB", met: func(r row, _ []row) bool { return r.value < 256 }},
		{workload: "fan-out 1 -> 100 subscribers", system: livefoldBus,
			text: ">= 5,000,000 deliveries/s, 0 allocs/delivery", met: func(r row, _ []row) bool {
				return r.value >= 5_000_000 && r.allocs >= 0 && r.allocs < 0.001
			}},
		{workload: idleRow, system: livefoldBus,
			text: "<= 2x the cost with 0 idle", met: func(r row, rows []row) bool {
				none := findRow(rows, "publish+receive, 0 idle subscriptions", livefoldBus)
				return none != nil && r.value <= 2*none.value
			}},
		// Issue 15: ahead of Pebble, not level with it.
		beats(apply(16), pebbleNoSyncWait, 1.5),
		beats(apply(64), pebbleNoSyncWait, 1.5),
		beats(hot, pebbleNoSyncWait, 1.5),
		beats(apply(1), pebbleSync, 1.2),
		{workload: apply(64), system: "livefold", text: "commits >= 70% of the sync limit",
			met: func(r row, _ []row) bool {
				f, ok := syncFraction(r)
				return ok && f >= 0.7
			}},
		beatsPebbleBatch(batch(1), 1.5),
		beatsPebbleBatch(batch(4), 1.5),
	}
}

// rebuildAllFaster holds RebuildAll of the history in order to ApplyBatch
// of the same events in the same order.
func rebuildAllFaster(workload, order string) target {
	return target{workload: workload, system: viaSystem("livefold", viaRebuildAll+order),
		text: ">= " + viaApplyBatch + " of the same events", met: func(r row, rows []row) bool {
			batch := findRow(rows, workload, viaSystem("livefold", viaApplyBatch+order))
			return batch != nil && r.value >= batch.value
		}}
}
