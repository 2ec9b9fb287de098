package boltstore

import (
	"bytes"
	"fmt"

	"github.com/livefold/livefold/store"

	bolt "go.etcd.io/bbolt"
)

// maxRetainedArena is the largest value arena, or frame buffer, kept between
// batches; one batch of huge states should not pin its memory for the life
// of the Store.
const maxRetainedArena = 4 << 20

// txSink commits every batch as one bbolt write transaction of the file:
// the path without a log. The committer's lookups read the same
// transaction, which already holds the batch's earlier writes. Every field
// is owned by the committer goroutine.
type txSink struct {
	s    *Store
	view txView
	// arena holds the encoded values of one transaction; bbolt requires a
	// Put value to stay untouched until the commit, so it is reset only
	// after the commit.
	arena []byte
}

func newTxSink(s *Store) *txSink {
	return &txSink{s: s, view: newTxView()}
}

// file returns the batch's write transaction, begun on first use.
func (t *txSink) file() (*txView, error) {
	if t.view.tx == nil {
		tx, err := t.s.db.Begin(true)
		if err != nil {
			return nil, err
		}
		t.view.reset(tx)
	}
	return &t.view, nil
}

// add writes one write of an accepted request into the transaction.
func (t *txSink) add(w *store.Write) error {
	v, err := t.file()
	if err != nil {
		return err
	}
	if w.Delete {
		return v.write(w.Bucket, w.Key, true, nil)
	}
	start := len(t.arena)
	t.arena = EncodeRecord(t.arena, w.Record)
	return v.write(w.Bucket, w.Key, false, t.arena[start:len(t.arena):len(t.arena)])
}

// commit commits the transaction; see fileWriter.commit.
func (t *txSink) commit() error {
	// The transaction stays in the view until Commit returned: if bbolt
	// panics inside it, end rolls it back, which releases bbolt's writer
	// lock.
	err := t.s.file.commit(t.view.tx)
	if err == nil {
		t.view.reset(nil)
	}
	return err
}

// end rolls back a transaction that did not commit and releases the
// batch's values.
func (t *txSink) end() {
	if t.view.tx != nil {
		_ = t.view.tx.Rollback() // ErrTxClosed after a Commit that failed
		t.view.reset(nil)
	}
	if cap(t.arena) > maxRetainedArena {
		t.arena = nil
	} else {
		t.arena = t.arena[:0]
	}
}

// txView reads and writes records in one bbolt transaction. It caches the
// transaction's bucket handles and one cursor per bucket, and turns strings
// into the []byte bbolt wants without an allocation per call (bbolt copies
// the keys it keeps).
type txView struct {
	tx *bolt.Tx
	// buckets caches the transaction's bucket handles; nil means absent.
	buckets map[string]*bolt.Bucket
	// cursors caches one cursor per bucket: a Seek rebuilds the cursor's
	// path from the root, also after Puts, and reusing the cursor reuses its
	// path's memory.
	cursors         map[*bolt.Bucket]*bolt.Cursor
	nameBuf, keyBuf []byte
	// fill, when not 0, is the FillPercent of every bucket the view uses.
	fill float64
}

func newTxView() txView {
	return txView{buckets: make(map[string]*bolt.Bucket), cursors: make(map[*bolt.Bucket]*bolt.Cursor)}
}

// reset forgets everything tied to the previous transaction and starts
// using tx (nil: none).
func (v *txView) reset(tx *bolt.Tx) {
	v.tx = tx
	clear(v.buckets)
	clear(v.cursors)
}

// setFill makes fill the FillPercent of bucket, and of every bucket the
// view takes up later, in this transaction. bbolt reads it when the
// transaction commits, so it is one value per bucket and transaction.
func (v *txView) setFill(bucket string, fill float64) {
	v.fill = fill
	if b := v.buckets[bucket]; b != nil {
		b.FillPercent = fill
	}
}

// fillSample bounds the keys fillFor looks up: it judges keys spread evenly
// over the checkpoint's, which tells the share of runs about as well as all
// of them would. A seek per key was 8% of the checkpoints' CPU when
// rebuilding 1,000,000 scattered keys (bench's rebuildall).
const fillSample = 512

// fillFor returns the FillPercent for writing ents, in key order, into
// bucket: denseFill when most of the keys it lacks come in runs, each
// landing next to the key before it with no key of the bucket in between
// (all of them, in a bucket that is absent or empty, or when they all come
// after its last key), else bbolt.DefaultFillPercent, which also suits a
// page that splits because a record grew. It judges at most fillSample of
// the keys. See denseFill.
func (v *txView) fillFor(bucket string, ents []keyedEntry) (float64, error) {
	b, err := v.bucket(bucket, false)
	if err != nil || b == nil {
		return denseFill, err
	}
	c := b.Cursor()
	inserts, runs := 0, 0
	step := max(1, len(ents)/fillSample)
	for i := 0; i < len(ents); i += step {
		k := ents[i].key
		v.keyBuf = append(v.keyBuf[:0], k...)
		// The first key of the bucket at or after k: k itself, or none, or
		// one at or after the next key to write, which leaves nothing
		// between the two.
		next, _ := c.Seek(v.keyBuf)
		switch {
		case next != nil && string(next) == k:
			continue // an update
		case next == nil || (i+1 < len(ents) && string(next) >= ents[i+1].key):
			runs++
		}
		inserts++
	}
	if inserts > 0 && 2*runs >= inserts {
		return denseFill, nil
	}
	return bolt.DefaultFillPercent, nil
}

// bucket returns the handle of name, creating the bucket when create is
// set; without create, an absent bucket is (nil, nil).
func (v *txView) bucket(name string, create bool) (*bolt.Bucket, error) {
	b, ok := v.buckets[name]
	if ok && (b != nil || !create) {
		return b, nil
	}
	v.nameBuf = append(v.nameBuf[:0], name...)
	if create {
		var err error
		if b, err = v.tx.CreateBucketIfNotExists(v.nameBuf); err != nil {
			return nil, fmt.Errorf("create bucket %q: %w", name, err)
		}
	} else {
		b = v.tx.Bucket(v.nameBuf)
	}
	if b != nil && v.fill != 0 {
		b.FillPercent = v.fill
	}
	v.buckets[name] = b
	return b, nil
}

// get returns the value stored under bucket and key, valid until the
// transaction ends; found false when there is none. A nil value with found
// is a nested bucket, which this package never creates.
func (v *txView) get(bucket, key string) (val []byte, found bool, err error) {
	b, err := v.bucket(bucket, false)
	if err != nil || b == nil {
		return nil, false, err
	}
	cur := v.cursors[b]
	if cur == nil {
		cur = b.Cursor()
		v.cursors[b] = cur
	}
	v.keyBuf = append(v.keyBuf[:0], key...)
	k, val := cur.Seek(v.keyBuf)
	if k == nil || !bytes.Equal(k, v.keyBuf) {
		return nil, false, nil
	}
	return val, true, nil
}

// write puts value under bucket and key, creating the bucket, or with del
// deletes the key. value must stay untouched until the transaction ended.
func (v *txView) write(bucket, key string, del bool, value []byte) error {
	b, err := v.bucket(bucket, !del)
	if err != nil || b == nil {
		return err // deleting from an absent bucket changes nothing
	}
	v.keyBuf = append(v.keyBuf[:0], key...)
	if del {
		if err := b.Delete(v.keyBuf); err != nil {
			return fmt.Errorf("delete bucket %q key %q: %w", bucket, store.QuoteKey(key), err)
		}
		return nil
	}
	if err := b.Put(v.keyBuf, value); err != nil {
		return fmt.Errorf("put bucket %q key %q: %w", bucket, store.QuoteKey(key), err)
	}
	return nil
}
