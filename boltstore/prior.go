package boltstore

import (
	bolt "go.etcd.io/bbolt"

	"github.com/livefold/livefold/store"
)

// prior is what the database file held, when a request was submitted, for
// one of its writes whose key the overlay lacked then: read by the
// submitting goroutine, so that the committer judges the write without
// reading the file. Many producers read the file at once; the committer
// would read it for each of them in turn, while the batch it builds waits.
type prior struct {
	e overlayEntry
	// reqErr is a record of the file that the write may not replace: a
	// nested bucket, or one that fails to decode (see committer.current).
	reqErr error
	// read says that e and reqErr were read; false when the key was in the
	// overlay (the committer finds it there, or reads the file itself if a
	// checkpoint dropped it meanwhile) or the file could not be read.
	read bool
}

// priors are the priors of a request's writes, by index; the first is kept
// in the request itself, since most requests have one write.
type priors struct {
	first prior
	rest  []prior
	// epoch is the overlay's epoch before the file was read: the priors
	// hold as long as it has not changed (see overlay.epoch).
	epoch uint64
	// ok says that the priors were read: not for a request submitted to a
	// Store without a log, or when the file could not be read.
	ok bool
}

// at returns the prior of write i; nil when the priors were not read.
func (p *priors) at(i int) *prior {
	switch {
	case !p.ok:
		return nil
	case i == 0:
		return &p.first
	}
	return &p.rest[i-1]
}

// readPriors reads, for each write of req whose key is not in the overlay,
// what the file holds, in one read transaction. The epoch is taken before
// anything is read: a checkpoint that writes a key into the file holds the
// key in the overlay until it is done and then advances the epoch, so a
// prior read under an epoch that has not changed by the time the write is
// judged is what the file holds then, unless the key is in the overlay,
// which the committer looks at first. A file that cannot be read (closed,
// damaged) leaves the priors unread, for the committer to find and report.
func (s *Store) readPriors(req *request) {
	o := s.overlay
	if o == nil || len(req.writes) == 0 {
		return
	}
	p := &req.priors
	p.epoch, p.ok = o.epoch.Load(), true
	if len(req.writes) > 1 {
		p.rest = make([]prior, len(req.writes)-1)
	}
	need := false
	for i := range req.writes {
		w := &req.writes[i]
		if _, ok := o.get(w.Bucket, w.Key); !ok {
			p.at(i).read = true
			need = true
		}
	}
	if !need {
		return
	}
	err := guard(s.path, func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			v := txView{tx: tx, buckets: make(map[string]*bolt.Bucket, 1), cursors: make(map[*bolt.Bucket]*bolt.Cursor, 1)}
			for i := range req.writes {
				if pr := p.at(i); pr.read {
					var err error
					if pr.e, pr.reqErr, err = fileEntry(&v, &req.writes[i]); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		*p = priors{}
	}
}

// fileEntry returns the record of the file w replaces (present false:
// absent), or, as reqErr, why w may not replace it: a key that holds a
// nested bucket is a damaged record, also for Force, since bbolt's Put would
// fail the whole transaction on it. For w.Force it does not decode the
// record, which may be damaged. err reports a failure to read the file; a
// damaged page panics, so callers run it under guard.
func fileEntry(v *txView, w *store.Write) (e overlayEntry, reqErr, err error) {
	val, found, err := v.get(w.Bucket, w.Key)
	if err != nil || !found {
		return overlayEntry{}, nil, err
	}
	if val == nil {
		return overlayEntry{}, &store.CorruptError{Bucket: w.Bucket, Key: w.Key, Reason: "key holds a nested bucket, not a record"}, nil
	}
	if w.Force {
		return overlayEntry{present: true}, nil, nil
	}
	rec, err := DecodeRecord(val)
	if err != nil {
		return overlayEntry{}, store.Located(err, w.Bucket, w.Key), nil
	}
	return overlayEntry{present: true, version: rec.Version, stamp: rec.Stamp}, nil, nil
}
