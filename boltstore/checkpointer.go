package boltstore

import "time"

// checkpointer folds frozen generations of the write-ahead log into the
// database file on a goroutine of its own, so that commits go on into the
// other log file meanwhile. The committer hands it one fold at a time and
// owns the Store's fileWriter whenever it is idle; it starts with the
// committer's run and stops when the committer closes in.
type checkpointer struct {
	file *fileWriter
	// in carries folds from the committer; out carries them back with their
	// outcome. One fold is in flight at a time, so neither send waits.
	in, out chan *fold
	// stopped is closed when run returned.
	stopped chan struct{}
}

// fold is one checkpoint: the records of a frozen log generation, and the
// fold point that says the file holds that generation.
type fold struct {
	recs records
	fp   foldPoint
	// size is the bytes of the frozen generation in its log file.
	size int64
	// err and took are the outcome: the write transaction's error, and
	// how long the fold took.
	err  error
	took time.Duration
}

func newCheckpointer(file *fileWriter) *checkpointer {
	return &checkpointer{file: file, in: make(chan *fold, 1), out: make(chan *fold, 1), stopped: make(chan struct{})}
}

func (k *checkpointer) run() {
	defer close(k.stopped)
	for f := range k.in {
		start := time.Now()
		f.err = k.file.write(f.recs, &f.fp)
		f.took = time.Since(start)
		k.out <- f
	}
}

// stop ends run and waits for it; the checkpointer must be idle.
func (k *checkpointer) stop() {
	close(k.in)
	<-k.stopped
}
