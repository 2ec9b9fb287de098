package boltstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
)

// BenchmarkStore_Commit measures Commit throughput with 1 and 64 concurrent
// writers, each updating its own key with an Expect chain. One op is one
// committed write; writes/s is the aggregate rate.
func BenchmarkStore_Commit(b *testing.B) {
	for _, c := range benchConfigs {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", c.name, writers), func(b *testing.B) {
				benchCommit(b, openStore(b, c.opts...), writers)
			})
		}
	}
}

// benchConfigs are the commit paths the write benchmarks measure: the log
// with and without fsync, and transactions of the file without fsync, which
// measures the committer's own work on that path rather than the disk.
var benchConfigs = []struct {
	name string
	opts []boltstore.Option
}{
	{"durable", nil},
	{"nosync", []boltstore.Option{boltstore.WithNoSync()}},
	{"nosync-nowal", []boltstore.Option{boltstore.WithNoSync(), boltstore.WithoutWAL()}},
}

func benchCommit(b *testing.B, s *boltstore.Store, writers int) {
	state := make([]byte, 100)
	work := make(chan struct{})
	var wg sync.WaitGroup
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
			}
		})
	}
	feedWriters(b, s, work, &wg)
}

// feedWriters hands one write to the writers per benchmark iteration, waits
// for them to finish and reports the write rate and batch size.
func feedWriters(b *testing.B, s *boltstore.Store, work chan struct{}, wg *sync.WaitGroup) {
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		work <- struct{}{}
		n++
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "writes/s")
	b.ReportMetric(s.Stats().MeanBatchWrites, "writes/batch")
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
			benchSubmit(b, openStore(b, c.opts...), 64, 16)
		})
	}
}

func benchSubmit(b *testing.B, s *boltstore.Store, writers, window int) {
	state := make([]byte, 100)
	work := make(chan struct{})
	var wg sync.WaitGroup
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
	feedWriters(b, s, work, &wg)
	b.ReportMetric(float64(s.Stats().MeanCommitLatency.Microseconds()), "µs/commit")
}
