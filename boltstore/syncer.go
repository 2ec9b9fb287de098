package boltstore

import "time"

// syncer appends the frames the committer builds to the write-ahead log,
// one write and one fdatasync each, on a goroutine of its own, so that the
// committer builds the next frame meanwhile. The committer hands it one
// batch at a time, only while it is idle, and it owns the log from then
// until it hands the batch back; it starts with the committer's run and
// stops when the committer closes in.
type syncer struct {
	w *wal
	// in carries sealed batches from the committer; out carries them back,
	// with their outcome in syncErr and syncTime. One batch is in flight at
	// a time, so neither send waits.
	in, out chan *batch
	// stopped is closed when run returned.
	stopped chan struct{}
}

func newSyncer(w *wal) *syncer {
	return &syncer{w: w, in: make(chan *batch, 1), out: make(chan *batch, 1), stopped: make(chan struct{})}
}

func (y *syncer) run() {
	defer close(y.stopped)
	for b := range y.in {
		start := time.Now()
		b.syncErr = y.w.append(b.sealed)
		b.syncTime = time.Since(start)
		y.out <- b
	}
}

// stop ends run and waits for it; the syncer must be idle.
func (y *syncer) stop() {
	close(y.in)
	<-y.stopped
}
