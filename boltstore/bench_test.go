package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
)

// BenchmarkStore_Commit measures Commit throughput with 1 and 64 concurrent
// writers, each updating its own key with an Expect chain. One op is one
// committed write; writes/s is the aggregate rate. The durable cells also
// report commits/s and its fraction of the disk's raw sync rate, measured in
// the same run (see syncProbe).
func BenchmarkStore_Commit(b *testing.B) {
	for _, c := range benchConfigs {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", c.name, writers), func(b *testing.B) {
				benchCommit(b, openStore(b, c.opts...), writers, c.durable)
			})
		}
	}
}

// benchConfigs are the commit paths the write benchmarks measure: the log
// with and without fsync, and transactions of the file without fsync, which
// measures the committer's own work on that path rather than the disk.
var benchConfigs = []struct {
	name    string
	opts    []boltstore.Option
	durable bool
}{
	{"durable", nil, true},
	{"nosync", []boltstore.Option{boltstore.WithNoSync()}, false},
	{"nosync-nowal", []boltstore.Option{boltstore.WithNoSync(), boltstore.WithoutWAL()}, false},
}

func benchCommit(b *testing.B, s *boltstore.Store, writers int, durable bool) {
	state := make([]byte, 100)
	work := make(chan struct{})
	var wg, phase sync.WaitGroup
	ctx := context.Background()
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("writer-%d", w)
			writes := make([]store.Write, 1)
			for v := uint64(1); ; v++ {
				if _, ok := <-work; !ok {
					return
				}
				writes[0] = store.Write{Bucket: "bench", Key: key, Expect: v - 1,
					Record: store.Record{Version: v, UpdatedAt: time.Unix(0, int64(v)), Position: v, State: state}}
				if err := s.Commit(ctx, writes); err != nil {
					b.Error(err)
					return
				}
				phase.Done()
			}
		})
	}
	feedWriters(b, s, work, &wg, &phase, durable)
}

// feedWriters hands one write to the writers per benchmark iteration, each
// counted in phase until the writer has its outcome, waits for them to
// finish and reports the write rate and batch size. With probe it pauses
// the writes now and then for a burst of raw syncs (see syncProbe), and
// reports the commit rate, its fraction of the sync rate, and the share of
// the time the load ran that its commits spent syncing (the store's own
// measure of how close to the disk it runs, whatever the disk does).
func feedWriters(b *testing.B, s *boltstore.Store, work chan struct{}, wg, phase *sync.WaitGroup, probe bool) {
	var p *syncProbe
	if probe {
		p = newSyncProbe(b)
	}
	b.ReportAllocs()
	commits := s.Stats().Commits
	start := time.Now()
	n := 0
	for b.Loop() {
		phase.Add(1)
		work <- struct{}{}
		n++
		if p != nil && p.due() {
			b.StopTimer()
			phase.Wait()
			p.burst(b)
			b.StartTimer()
		}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "writes/s")
	b.ReportMetric(s.Stats().MeanBatchWrites, "writes/batch")
	if p != nil {
		// The rates are over the time the load ran; its commits' syncs
		// took sync of it.
		load := elapsed - p.probing
		st := s.Stats()
		sync := time.Duration(st.Commits) * st.MeanCommitLatency
		rate := float64(st.Commits-commits) / load.Seconds()
		b.ReportMetric(rate, "commits/s")
		b.ReportMetric(rate/p.rate(b), "of-sync-rate")
		b.ReportMetric(float64(sync)/float64(load), "sync-busy")
	}
}

// syncProbe measures the raw sync rate of the disk a benchmark writes to,
// in bursts between stretches of its load: 4 KiB written over blocks
// written and synced before (as the log's frames go over its preallocated
// bytes), then the sync the log makes (fdatasync on Linux), over and over.
// On a disk whose sync latency drifts, as a virtual machine's does from one
// second to the next, a probe before or after the load measures another
// disk; short bursts spread over it measure the same one.
type syncProbe struct {
	f    *os.File
	page []byte
	// syncs were made in probing, in all; the next burst is due at next.
	syncs   int
	probing time.Duration
	next    time.Time
}

// The load runs probeEvery between bursts of syncs that last probeFor.
const (
	probeEvery  = 100 * time.Millisecond
	probeFor    = 50 * time.Millisecond
	probeBlocks = 16
)

func newSyncProbe(b *testing.B) *syncProbe {
	f, err := os.Create(filepath.Join(b.TempDir(), "sync-probe"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	p := &syncProbe{f: f, page: make([]byte, 4096), next: time.Now().Add(probeEvery)}
	for i := range probeBlocks {
		if _, err := f.WriteAt(p.page, int64(i)*4096); err != nil {
			b.Fatal(err)
		}
	}
	if err := boltstore.Fdatasync(f); err != nil {
		b.Fatal(err)
	}
	return p
}

func (p *syncProbe) due() bool { return time.Now().After(p.next) }

// burst syncs for probeFor while the load is paused.
func (p *syncProbe) burst(b *testing.B) {
	start := time.Now()
	for time.Since(start) < probeFor {
		if _, err := p.f.WriteAt(p.page, int64(p.syncs%probeBlocks)*4096); err != nil {
			b.Fatal(err)
		}
		if err := boltstore.Fdatasync(p.f); err != nil {
			b.Fatal(err)
		}
		p.syncs++
	}
	p.probing += time.Since(start)
	p.next = time.Now().Add(probeEvery)
}

// rate returns the syncs per second of the bursts, after one more burst if
// none was due during the load.
func (p *syncProbe) rate(b *testing.B) float64 {
	if p.syncs == 0 {
		p.burst(b)
	}
	return float64(p.syncs) / p.probing.Seconds()
}

// BenchmarkStore_Get measures reading one record of a 1000-record bucket.
func BenchmarkStore_Get(b *testing.B) {
	s := openStore(b, boltstore.WithNoSync())
	const n = 1000
	writes := make([]store.Write, n)
	for i := range writes {
		writes[i] = put("bench", key(i), 0, store.Record{Version: 1, State: make([]byte, 100)})
	}
	mustCommit(b, s, writes...)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok, err := s.Get(ctx, "bench", key(i%n)); err != nil || !ok {
			b.Fatalf("Get = %v, %v", ok, err)
		}
		i++
	}
}

// BenchmarkStore_Submit measures pipelined throughput: 64 writers, each
// keeping up to 16 Submits in flight on its own key (Expect chains work across
// in-flight requests because they commit in submission order). This is the
// runtime's pattern, and the one group commit is built for: with a ~2ms fsync,
// 100k writes/s need about 200 writes per transaction, more than 64
// synchronous Commit callers can supply.
func BenchmarkStore_Submit(b *testing.B) {
	for _, c := range benchConfigs {
		b.Run(c.name+"/writers=64", func(b *testing.B) {
			benchSubmit(b, openStore(b, c.opts...), 64, 16, c.durable)
		})
	}
}

func benchSubmit(b *testing.B, s *boltstore.Store, writers, window int, durable bool) {
	state := make([]byte, 100)
	work := make(chan struct{})
	var wg, phase sync.WaitGroup
	ctx := context.Background()
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("writer-%d", w)
			slots := make(chan struct{}, window) // in-flight requests of this writer
			// Each in-flight request needs its own Write slice, which the
			// store keeps until done: a ring of window slices.
			ring := make([][]store.Write, window)
			for i := range ring {
				ring[i] = make([]store.Write, 1)
			}
			done := func(err error) {
				if err != nil {
					b.Error(err)
				}
				<-slots
				phase.Done()
			}
			for v := uint64(1); ; v++ {
				if _, ok := <-work; !ok {
					break
				}
				slots <- struct{}{}
				writes := ring[v%uint64(window)]
				writes[0] = store.Write{Bucket: "bench", Key: key, Expect: v - 1,
					Record: store.Record{Version: v, UpdatedAt: time.Unix(0, int64(v)), Position: v, State: state}}
				if err := s.Submit(ctx, writes, done); err != nil {
					b.Error(err)
					return
				}
			}
			for range window { // wait for this writer's last requests
				slots <- struct{}{}
			}
		})
	}
	feedWriters(b, s, work, &wg, &phase, durable)
	b.ReportMetric(float64(s.Stats().MeanCommitLatency.Microseconds()), "µs/commit")
}
