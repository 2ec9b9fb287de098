package main

import (
	"os"
	"time"
)

// minProbeSyncs is the fewest syncs a probe makes, however short it is, so
// that a rate comes from more than a couple of them.
const minProbeSyncs = 8

// syncProbe is the sync limit measured around one workload group: the rate
// of a loop of 4 KiB overwrites, each followed by fdatasync, in the directory
// holding the databases, run just before the group and just after it.
type syncProbe struct {
	group         string
	before, after float64 // syncs per second
}

// limit returns the rate the group's cells are held to: the mean of the two
// probes, as the cells ran between them.
func (p syncProbe) limit() float64 { return (p.before + p.after) / 2 }

// probeFilePages is how many 4 KiB pages the probe's file holds: it
// overwrites them in turn, wrapping around.
const probeFilePages = 1024

// probeSyncRate returns how many times per second a loop of 4 KiB writes,
// each followed by fdatasync, completes in a new file under dir, run for
// at least d and at least minProbeSyncs times, and removes the file. The
// file is written and synced in full first and then overwritten page after
// page, so a sync has no new file size to make durable: this is the fastest
// a log that syncs once per commit can go on this disk at that moment, and
// the way livefold's preallocated write-ahead log writes. (Appending, each
// sync would also have to make the file's new size durable, a slower rate
// that would flatter every system held to it.)
func probeSyncRate(dir string, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "sync-probe-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 4096)
	if _, err := f.Write(make([]byte, probeFilePages*len(page))); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	start := time.Now()
	n := 0
	for ; n < minProbeSyncs || time.Since(start) < d; n++ {
		page[0] = byte(n) // a different page content each time
		if _, err := f.WriteAt(page, int64(n%probeFilePages)*int64(len(page))); err != nil {
			return 0, err
		}
		if err := fdatasync(f); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// probeLength returns how long each sync probe runs: a quarter of a timed
// cell, between 10 ms and 1 s.
func probeLength(cell time.Duration) time.Duration {
	return min(max(cell/4, 10*time.Millisecond), time.Second)
}
