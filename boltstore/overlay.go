package boltstore

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

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

// overlay holds the records committed to the log and not yet folded into
// the database file, newest value per key, by bucket and key: a walk of one
// bucket finds its records without looking at the others'. It has two
// layers: m, the records of the log generation written now, and folding,
// those of the generation a checkpoint is folding into the file, which it
// keeps until the file holds them (and after a failed checkpoint, until one
// succeeds). A record of m shadows one of folding. The committer writes it;
// readers consult it before the database file.
//
// A value is a slice of the frame that logged it, and frames are never
// modified once logged, so a value read under the lock stays valid after
// it, also once a checkpoint dropped it from the overlay.
type overlay struct {
	// mu guards m and folding, the maps themselves; the committer, their
	// only writer, reads them without. A folding map is never modified:
	// the checkpoint reads it without the lock.
	mu      sync.RWMutex
	m       records
	folding records
	// epoch counts the folding layers dropped. A checkpoint writes into
	// the file only records of the folding layer, which holds them until
	// after the file does; so while epoch stays the same, the file holds
	// the same record for every key the overlay lacks (see readPriors).
	epoch atomic.Uint64
}

// records are overlay entries by bucket and key.
type records map[string]map[string]overlayEntry

func newOverlay() *overlay {
	return &overlay{m: make(records)}
}

func (o *overlay) get(bucket, key string) (overlayEntry, bool) {
	o.mu.RLock()
	e, ok := o.lookup(bucket, key)
	o.mu.RUnlock()
	return e, ok
}

// lookup is get for the committer, the only writer, which needs no lock to
// read.
func (o *overlay) lookup(bucket, key string) (overlayEntry, bool) {
	if e, ok := o.m[bucket][key]; ok {
		return e, ok
	}
	e, ok := o.folding[bucket][key]
	return e, ok
}

// set records the writes of a frame just logged.
func (o *overlay) set(entries []pendingWrite, frame []byte) {
	o.mu.Lock()
	for i := range entries {
		p := &entries[i]
		e := overlayEntry{version: p.version, stamp: p.stamp, present: p.present}
		if p.present {
			e.value = frame[p.valStart:p.valEnd:p.valEnd]
		}
		o.putLocked(p.k.bucket, p.k.key, e)
	}
	o.mu.Unlock()
}

// freeze makes the records of the generation written so far the folding
// layer, for a checkpoint to fold, and returns them; the next generation's
// start empty. No other layer may be folding.
func (o *overlay) freeze() records {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.folding, o.m = o.m, make(records)
	return o.folding
}

// folded drops the folding layer once the file holds it.
func (o *overlay) folded() {
	o.mu.Lock()
	o.folding = nil
	o.epoch.Add(1)
	o.mu.Unlock()
}

// replay records the writes of a log read back at Open, in log order, so
// that the newest write of each key wins.
func (o *overlay) replay(writes []walWrite) {
	o.mu.Lock()
	for _, w := range writes {
		e := overlayEntry{present: !w.delete}
		if e.present {
			e.value = w.value
			// A value that fails to decode is reported by the reads that
			// meet it; its version and stamp matter only to a committer.
			if r, err := DecodeRecord(w.value); err == nil {
				e.version, e.stamp = r.Version, r.Stamp
			}
		}
		o.putLocked(w.bucket, w.key, e)
	}
	o.mu.Unlock()
}

func (o *overlay) putLocked(bucket, key string, e overlayEntry) {
	b := o.m[bucket]
	if b == nil {
		b = make(map[string]overlayEntry)
		o.m[bucket] = b
	}
	b[key] = e
}

// overlayItem is one entry of a bucket's overlay, with its key.
type overlayItem struct {
	key string
	overlayEntry
}

// sorted returns a copy of bucket's entries in key order; with values false
// it leaves out the encoded records, so that the copy does not keep the
// frames they are in alive. A nil overlay has no entries.
func (o *overlay) sorted(bucket string, values bool) []overlayItem {
	if o == nil {
		return nil
	}
	o.mu.RLock()
	b, old := o.m[bucket], o.folding[bucket]
	items := make([]overlayItem, 0, len(b)+len(old))
	add := func(k string, e overlayEntry) {
		if !values {
			e.value = nil
		}
		items = append(items, overlayItem{key: k, overlayEntry: e})
	}
	for k, e := range b {
		add(k, e)
	}
	for k, e := range old {
		if _, shadowed := b[k]; !shadowed {
			add(k, e)
		}
	}
	o.mu.RUnlock()
	slices.SortFunc(items, func(a, b overlayItem) int { return strings.Compare(a.key, b.key) })
	return items
}

// snapshot returns a copy of every entry, by bucket and key, the newest of
// each key. A nil overlay has no entries.
func (o *overlay) snapshot() records {
	if o == nil {
		return nil
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	m := make(records, len(o.m)+len(o.folding))
	for bucket, b := range o.folding {
		m[bucket] = maps.Clone(b)
	}
	for bucket, b := range o.m {
		if old := m[bucket]; old != nil {
			maps.Copy(old, b)
		} else {
			m[bucket] = maps.Clone(b)
		}
	}
	return m
}

// pendingWrite is a write accepted into the frame being built.
type pendingWrite struct {
	k                bucketKey
	version, stamp   uint64
	present          bool
	valStart, valEnd int // the encoded record's place in the frame
}
