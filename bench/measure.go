package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
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

// probeFsync returns the median time to write 4 KiB and fsync it, n times,
// in a file under dir: the floor under every durable commit.
func probeFsync(dir string, n int) (time.Duration, error) {
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 4096)
	lat := make([]time.Duration, n)
	for i := range lat {
		start := time.Now()
		if _, err := f.WriteAt(page, int64(i%16)*4096); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		lat[i] = time.Since(start)
	}
	slices.Sort(lat)
	return lat[n/2], nil
}

// diskUsage returns the bytes allocated on disk to the files that exist
// among paths, which is less than their size when they are sparse (bbolt
// grows its file by truncating it ahead of the data).
func diskUsage(paths []string) int64 {
	var n int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
	}
	return n
}

// heapSampler records the largest HeapInuse seen while it runs, the bytes
// in spans holding at least one object, live or not yet collected (what the
// Go heap takes from the process at that moment), and the largest live heap
// the collector measured: the bytes it marked in its last cycle. With
// profile it also keeps a heap profile taken when the live heap reached a
// new peak, which shows what that live heap held: a heap profile's in-use
// figures are those of the last completed cycle too.
type heapSampler struct {
	stop chan struct{}
	done chan heapPeaks
}

// heapPeaks are the largest figures a heapSampler saw, and the profile of
// the largest live heap when one was asked for.
type heapPeaks struct {
	inuse, live uint64
	profile     []byte
}

// sampleHeap starts sampling right away and every interval, on a goroutine
// that Stop ends. ReadMemStats stops the world for some microseconds, so an
// interval of tens of milliseconds costs well under 1%. A profile is taken
// only when the live heap grew by a sixteenth since the last one, so that
// a steady heap costs none.
func sampleHeap(interval time.Duration, profile bool) *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan heapPeaks, 1)}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		var peaks heapPeaks
		var profiled uint64
		var m runtime.MemStats
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		sample := func() {
			runtime.ReadMemStats(&m)
			metrics.Read(live)
			peaks.inuse = max(peaks.inuse, m.HeapInuse)
			if live[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			v := live[0].Value.Uint64()
			peaks.live = max(peaks.live, v)
			if profile && v > profiled+profiled/16 {
				var b bytes.Buffer
				if pprof.Lookup("heap").WriteTo(&b, 0) == nil {
					profiled, peaks.profile = v, b.Bytes()
				}
			}
		}
		for {
			sample()
			select {
			case <-s.stop:
				sample()
				s.done <- peaks
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop takes a last sample, ends the sampling goroutine and returns the
// largest samples.
func (s *heapSampler) Stop() heapPeaks {
	close(s.stop)
	return <-s.done
}
