package main

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// cpuClock measures the CPU time the process spends, to tell CPU-bound cells
// from cells that wait (on fsync, on a lock).
type cpuClock struct {
	wall time.Time
	cpu  time.Duration
}

func startCPU() cpuClock { return cpuClock{wall: time.Now(), cpu: processCPU()} }

// cores returns the average number of cores busy since start.
func (c cpuClock) cores() float64 {
	wall := time.Since(c.wall)
	if wall <= 0 {
		return 0
	}
	return float64(processCPU()-c.cpu) / float64(wall)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC() // the second cycle frees what finalizers of the first released
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// mallocs returns the number of heap allocations so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// filesSize returns the summed size of the files that exist among paths.
func filesSize(paths []string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
