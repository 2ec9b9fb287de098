package pgstore

// deliver calls the done callbacks of every committed batch, in order, on
// the one goroutine that runs it, until the committer closes deliveries;
// then it closes stopped. It runs apart from the committer so that no
// caller's code runs on the goroutine every commit waits for: the next
// batch commits while this one's callbacks run.
func (s *Store) deliver() {
	defer close(s.stopped)
	for b := range s.deliveries {
		for i, r := range b.reqs {
			if r.done != nil {
				s.callDone(r.done, b.errs[i])
			}
		}
	}
}

// callDone runs one callback, containing its panic so that one faulty
// caller cannot stop the deliverer and strand every other caller.
func (s *Store) callDone(done func(error), err error) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.logger.Error("pgstore: done callback panicked", "table", s.cfg.table, "panic", p, "outcome", err)
		}
	}()
	done(err)
}
