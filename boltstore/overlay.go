package boltstore

import "sync"

// bucketKey names one record.
type bucketKey struct{ bucket, key string }

// overlayEntry is a committed record that is in the log and not yet in the
// database file; present false is a committed delete.
type overlayEntry struct {
	value   []byte // the encoded record, a slice of the frame that logged it
	version uint64
	stamp   uint64
	present bool
}

// overlay holds the records committed to the log since the last checkpoint,
// newest value per key. The committer writes it; readers consult it before
// the database file.
type overlay struct {
	mu sync.RWMutex // guards m
	m  map[bucketKey]overlayEntry
}

func (o *overlay) get(bucket, key string) (overlayEntry, bool) {
	o.mu.RLock()
	e, ok := o.m[bucketKey{bucket, key}]
	o.mu.RUnlock()
	return e, ok
}

// lookup is get for the committer, the only writer, which needs no lock to
// read.
func (o *overlay) lookup(k bucketKey) (overlayEntry, bool) {
	e, ok := o.m[k]
	return e, ok
}

func (o *overlay) set(entries []pendingWrite, frame []byte) {
	o.mu.Lock()
	for i := range entries {
		p := &entries[i]
		e := overlayEntry{version: p.version, stamp: p.stamp, present: p.present}
		if p.present {
			e.value = frame[p.valStart:p.valEnd:p.valEnd]
		}
		o.m[p.k] = e
	}
	o.mu.Unlock()
}

func (o *overlay) clear() {
	o.mu.Lock()
	clear(o.m)
	o.mu.Unlock()
}

// pendingWrite is a write accepted into the frame being built.
type pendingWrite struct {
	k                bucketKey
	version, stamp   uint64
	present          bool
	valStart, valEnd int // the encoded record's place in the frame
}
