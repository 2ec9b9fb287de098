package boltstore

// completer reports the outcomes of batches on a goroutine of its own, in
// the order the committer hands them over and, within a batch, in queue
// order: it sends Commit's result or calls Submit's done. Callers' code
// runs only here, never on the committer or the syncer, so a callback
// never delays the sync of the frame after its own. It starts with the
// committer's run and stops when the committer closes in.
type completer struct {
	s *Store
	// in carries batches whose outcomes are known; out carries them back
	// to the committer once every outcome was reported. Both hold
	// maxOutstanding batches, more than the committer ever hands over
	// before taking one back, so no send waits.
	in, out chan *batch
	// stopped is closed when run returned.
	stopped chan struct{}
}

func newCompleter(s *Store) *completer {
	return &completer{
		s:       s,
		in:      make(chan *batch, maxOutstanding),
		out:     make(chan *batch, maxOutstanding),
		stopped: make(chan struct{}),
	}
}

func (p *completer) run() {
	defer close(p.stopped)
	for b := range p.in {
		// Counted first, so that a caller whose callback ran sees it in
		// Stats.
		p.s.stats.requests.Add(uint64(len(b.reqs)))
		for i := range b.reqs {
			req := &b.reqs[i]
			switch {
			case req.wait != nil:
				req.wait <- b.errs[i]
			case req.done != nil:
				p.callDone(req.done, b.errs[i])
			}
		}
		p.out <- b
	}
}

// stop ends run and waits for it; every batch handed over must be back.
func (p *completer) stop() {
	close(p.in)
	<-p.stopped
}

// callDone runs one callback, containing its panic so that one faulty caller
// cannot stop the completer and strand every other caller.
func (p *completer) callDone(done func(error), err error) {
	defer func() {
		if r := recover(); r != nil {
			p.s.stats.callbackPanics.Add(1)
			p.s.cfg.logger.Error("boltstore: done callback panicked",
				"path", p.s.path, "panic", r, "outcome", err)
		}
	}()
	done(err)
}
