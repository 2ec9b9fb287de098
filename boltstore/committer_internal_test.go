package boltstore

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/livefold/livefold/store"
)

// BenchmarkCommitter_Batch measures the committer's own work per write: a
// batch of 256 one-write requests, each replacing one of 10,000 records with
// an Expect check, judged, then logged or put, and committed without a sync,
// without the queue or callbacks, whose scheduling makes the public
// benchmarks noisy, and (for the log) without checkpoints. It is in the
// package because it drives a committer directly, standing in for its
// syncer and completer; the Store's own goroutines are idle meanwhile.
func BenchmarkCommitter_Batch(b *testing.B) {
	for _, cfg := range []struct {
		name string
		opts []Option
	}{
		{"log", []Option{WithNoSync(), WithWALSize(1 << 30)}},
		{"nowal", []Option{WithNoSync(), WithoutWAL()}},
	} {
		b.Run(cfg.name, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "s.db"), cfg.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const batch, keys = 256, 10000
			versions := make([]uint64, keys)
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprintf("key-%05d", i)
			}
			reqs := make([]request, batch)
			writes := make([][]store.Write, batch)
			for i := range writes {
				writes[i] = make([]store.Write, 1)
			}
			state := make([]byte, 100)
			c := newCommitter(s)
			next := 0
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for i := range reqs {
					k := next % keys
					next++
					v := versions[k]
					writes[i][0] = store.Write{Bucket: "bench", Key: names[k], Expect: v,
						Record: store.Record{Version: v + 1, Position: v + 1, State: state}}
					versions[k] = v + 1
					reqs[i] = request{writes: writes[i], size: store.RequestSize(writes[i])}
				}
				for _, r := range reqs {
					c.take(r)
				}
				c.advance()
				if c.syncing != nil {
					sb := <-c.syncer.in
					sb.syncErr = s.wal.append(sb.sealed)
					c.synced(sb)
				}
				done := <-c.completer.in
				for i, err := range done.errs {
					if err != nil {
						b.Fatalf("request %d = %v", i, err)
					}
				}
				c.outstanding--
				done.reset()
				c.free = append(c.free, done)
				n += batch
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/write")
		})
	}
}
