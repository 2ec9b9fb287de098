package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	dto "github.com/prometheus/client_model/go"
)

// pebbleSystem is the read model as a competent user writes it on Pebble v2:
// under the per-key lock the other peers take, per event a Get of the row,
// the fold, and a batch holding its Set committed with pebble.Sync;
// ApplyBatch folds its events into one batch that writes each key once.
//
// With noSyncWait the batch is applied with DB.ApplyNoSyncWait and the
// key's lock released before Batch.SyncWait, as CockroachDB does, so that a
// key's next event can be folded while this one's WAL sync is in flight.
// That event still reads this one's state: Pebble makes a batch visible
// when it is applied to the memtable, before its sync, and the WAL is
// written in commit order, so the later event cannot be durable without
// the earlier one. An event is acknowledged only after its sync.
type pebbleSystem struct {
	db         *pebble.DB
	folder     folder
	locks      keyLocks
	name       string
	noSyncWait bool
	events     atomic.Uint64 // events in committed batches, for note

	// The counters at the previous note; only note reads and writes them.
	lastSyncs, lastEvents uint64
	lastSyncNanos         float64
}

func openPebble(path string, o openOptions, noSyncWait bool) (system, error) {
	db, err := pebble.Open(path, &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{}})
	if err != nil {
		return nil, err
	}
	name := pebbleSync
	if noSyncWait {
		name = pebbleNoSyncWait
	}
	p := &pebbleSystem{db: db, folder: newFolder(o.stateBytes), name: name, noSyncWait: noSyncWait}
	p.lastSyncs, p.lastSyncNanos = walSyncs(db.Metrics())
	return p, nil
}

func (p *pebbleSystem) apply(_ context.Context, e event) error {
	unlock := p.locks.lock(e.Key)
	r, err := p.load(e.Key)
	if err != nil {
		unlock()
		return err
	}
	p.folder.fold(&r.State, e)
	r.Version++
	b := p.db.NewBatch()
	if err := p.set(b, e.Key, &r); err != nil {
		unlock()
		return errors.Join(err, b.Close())
	}
	return p.commit(b, 1, unlock)
}

func (p *pebbleSystem) applyBatch(_ context.Context, events []event) error {
	unlock := p.locks.lockAll(events)
	keys, rows, err := foldPeerRows(p.folder, events, p.load)
	if err != nil {
		unlock()
		return err
	}
	b := p.db.NewBatch()
	for _, k := range keys {
		if err := p.set(b, k, rows[k]); err != nil {
			unlock()
			return errors.Join(err, b.Close())
		}
	}
	return p.commit(b, len(events), unlock)
}

// commit commits b durably and closes it, calling unlock once the batch is
// visible to readers: after the sync, or, with noSyncWait, before it. n is
// the number of events the batch holds.
func (p *pebbleSystem) commit(b *pebble.Batch, n int, unlock func()) error {
	if !p.noSyncWait {
		err := b.Commit(pebble.Sync)
		unlock()
		if err == nil {
			p.events.Add(uint64(n))
		}
		return errors.Join(err, b.Close())
	}
	err := p.db.ApplyNoSyncWait(b, pebble.Sync)
	unlock()
	if err != nil {
		// Refused before it entered the commit pipeline, which is the only
		// way ApplyNoSyncWait returns an error: there is no sync to wait for.
		return errors.Join(err, b.Close())
	}
	// The batch must not be closed before SyncWait: the WAL may still read
	// it.
	err = b.SyncWait()
	if err == nil {
		p.events.Add(uint64(n))
	}
	return errors.Join(err, b.Close())
}

// load returns key's stored row, or the zero row if there is none.
func (p *pebbleSystem) load(key string) (peerRow, error) {
	v, closer, err := p.db.Get(peerKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return peerRow{}, nil
	}
	if err != nil {
		return peerRow{}, err
	}
	r, err := decodePeerRow(v)
	return r, errors.Join(err, closer.Close())
}

func (p *pebbleSystem) set(b *pebble.Batch, key string, r *peerRow) error {
	v, err := encodePeerRow(r)
	if err != nil {
		return err
	}
	return b.Set(peerKey(key), v, nil)
}

func (p *pebbleSystem) read(_ context.Context, key string) (account, uint64, bool, error) {
	v, closer, err := p.db.Get(peerKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return account{}, 0, false, nil
	}
	if err != nil {
		return account{}, 0, false, err
	}
	r, err := decodePeerRow(v)
	if err := errors.Join(err, closer.Close()); err != nil {
		return account{}, 0, false, err
	}
	return r.State, r.Version, true, nil
}

// rebuild folds events in memory and replaces key's row with one Set,
// which is atomic.
func (p *pebbleSystem) rebuild(_ context.Context, key string, events iter.Seq[event]) error {
	unlock := p.locks.lock(key)
	var r peerRow
	n := 0
	for e := range events {
		p.folder.fold(&r.State, e)
		r.Version++
		n++
	}
	b := p.db.NewBatch()
	if err := p.set(b, key, &r); err != nil {
		unlock()
		return errors.Join(err, b.Close())
	}
	return p.commit(b, n, unlock)
}

func (p *pebbleSystem) rebuildAll(context.Context, iter.Seq[event], int, int) error {
	return fmt.Errorf("%s: rebuild of every key: %w", p.name, errors.ErrUnsupported)
}

// syncs returns the WAL syncs Pebble counted since the open.
func (p *pebbleSystem) syncs() uint64 {
	n, _ := walSyncs(p.db.Metrics())
	return n
}

// walSyncs returns the number of WAL syncs Pebble's fsync latency histogram
// counted since the open and their summed latency in nanoseconds.
func walSyncs(m *pebble.Metrics) (uint64, float64) {
	h := m.LogWriter.FsyncLatency
	var d dto.Metric
	if h == nil || h.Write(&d) != nil {
		return 0, 0
	}
	return d.GetHistogram().GetSampleCount(), d.GetHistogram().GetSampleSum()
}

// note reports the WAL syncs since the previous note (how many events
// shared one, how long one took) and the memory Pebble holds outside the Go
// heap, which the memory workload's heap figures do not see.
func (p *pebbleSystem) note(elapsed time.Duration) string {
	m := p.db.Metrics()
	syncs, nanos := walSyncs(m)
	events := p.events.Load()
	dSyncs, dNanos, dEvents := syncs-p.lastSyncs, nanos-p.lastSyncNanos, events-p.lastEvents
	p.lastSyncs, p.lastSyncNanos, p.lastEvents = syncs, nanos, events
	mode := "Sync batch per call"
	if p.noSyncWait {
		mode = "ApplyNoSyncWait per call, lock released before SyncWait"
	}
	offHeap := fmt.Sprintf("memtables %.1f MiB and block cache %.1f MiB outside the Go heap, lock map %d keys",
		mib(int64(m.MemTable.Size)), mib(m.BlockCache.Size), p.locks.size())
	if dSyncs == 0 {
		return fmt.Sprintf("%s, no WAL syncs, %s", mode, offHeap)
	}
	return fmt.Sprintf("%s, %.0f WAL syncs/s, %.1f ev/sync, sync %.2f ms, %s", mode,
		float64(dSyncs)/elapsed.Seconds(), float64(dEvents)/float64(dSyncs), dNanos/float64(dSyncs)/1e6, offHeap)
}

func (p *pebbleSystem) close() error { return p.db.Close() }

// quietLogger passes Pebble's errors to its default logger and drops its
// informational lines: it logs every WAL it replays on open, which would
// bury the harness's progress.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }

func (quietLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }
