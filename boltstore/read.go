package boltstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/livefold/livefold/store"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// BucketInfo describes one bucket (projection) of the store.
type BucketInfo struct {
	Name string
	Keys int // number of records, those only in the write-ahead log included
	// Bytes is the size of the file's pages allocated to the bucket; InUse
	// the part of them holding data. A small bucket lives inline in its
	// parent's page (bbolt), and then both are its inline size. Records only
	// in the write-ahead log take no pages until a checkpoint.
	Bytes int64
	InUse int64
}

// Get returns the record stored under bucket and key, and whether it exists.
// It sees every request whose outcome was reported as committed. The returned
// store.Record.State is a fresh copy owned by the caller.
//
// A damaged record returns an error satisfying errors.Is(err, store.ErrCorrupt), a
// *store.CorruptError naming bucket, key and reason; Get never interprets bytes that
// failed verification. Invalid names return store.ErrInvalidName or
// store.ErrInvalidKey, and a closed Store store.ErrClosed.
func (s *Store) Get(ctx context.Context, bucket, key string) (store.Record, bool, error) {
	if err := validBucketKey(bucket, key); err != nil {
		return store.Record{}, false, err
	}
	if s.overlay != nil && !s.isClosed.Load() {
		if e, ok := s.overlay.get(bucket, key); ok {
			if !e.present {
				return store.Record{}, false, nil
			}
			r, err := decodeAt(e.value, bucket, key)
			if err != nil {
				return store.Record{}, false, err
			}
			r.State = bytes.Clone(r.State) // the log's bytes stay with the store
			return r, true, nil
		}
	}
	var (
		rec   store.Record
		found bool
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		k, v := b.Cursor().Seek([]byte(key))
		if k == nil || !bytes.Equal(k, []byte(key)) {
			return nil
		}
		r, err := decodeAt(v, bucket, key)
		if err != nil {
			return err
		}
		// bbolt's bytes are valid only inside the transaction.
		r.State = bytes.Clone(r.State)
		rec, found = r, true
		return nil
	})
	if err != nil {
		return store.Record{}, false, err
	}
	return rec, found, nil
}

// scanChunk is how many records Scan and Keys yield per read transaction.
const scanChunk = 256

// Scan walks bucket in key order and yields each record with a nil error, or,
// for a damaged record, its key with an error satisfying errors.Is(err,
// store.ErrCorrupt), and continues. An absent bucket yields nothing. A failure to
// read at all (store.ErrClosed, store.ErrInvalidName, ctx's error, checked
// before every record) is yielded once as the last element. Each yielded
// store.Record.State is a fresh copy owned by the caller.
//
// Scan sees every commit reported before it was called, and never waits for
// the committer: it merges the write-ahead log's records (in memory) with the
// file's, the log's shadowing the file's, and skips keys the log deleted. It
// reads the file in chunks, each in its own read transaction, and holds no
// transaction and no lock while the loop body runs, so the body may call any
// method of the Store. A record committed during the scan may be seen in its
// newer version or, if it was logged before the scan began, in the version
// it had then.
func (s *Store) Scan(ctx context.Context, bucket string) iter.Seq2[store.KeyRecord, error] {
	type item struct {
		kr  store.KeyRecord
		err error
	}
	fromFile := func(k, v []byte) item {
		key := string(k)
		r, err := decodeAt(v, bucket, key)
		if err == nil {
			r.State = bytes.Clone(r.State) // bbolt's bytes are valid only inside the transaction
		}
		return item{store.KeyRecord{Key: key, Record: r}, err}
	}
	fromLog := func(it *overlayItem) item {
		r, err := decodeAt(it.value, bucket, it.key)
		if err == nil {
			r.State = bytes.Clone(r.State) // the log's bytes stay with the store
		}
		return item{store.KeyRecord{Key: it.key, Record: r}, err}
	}
	return func(yield func(store.KeyRecord, error) bool) {
		if err := validBucketKey(bucket, "-"); err != nil {
			yield(store.KeyRecord{}, err)
			return
		}
		err := walkMerged(s, ctx, bucket, s.overlay.sorted(bucket, true), fromFile, fromLog,
			func(it item) bool { return yield(it.kr, it.err) })
		if err != nil {
			yield(store.KeyRecord{}, err)
		}
	}
}

// Keys yields every key of bucket in key order, damaged records included,
// without decoding or copying any state; see store.Store. It sees what Scan
// sees, merges the log with the file and reads in chunks as Scan does, never
// waits for the committer and holds no transaction while the loop body runs.
// A failure to read at all (as for Scan) is yielded once as the last
// element, with an empty key.
func (s *Store) Keys(ctx context.Context, bucket string) iter.Seq2[string, error] {
	fromFile := func(k, _ []byte) string { return string(k) }
	fromLog := func(it *overlayItem) string { return it.key }
	return func(yield func(string, error) bool) {
		if err := validBucketKey(bucket, "-"); err != nil {
			yield("", err)
			return
		}
		err := walkMerged(s, ctx, bucket, s.overlay.sorted(bucket, false), fromFile, fromLog,
			func(k string) bool { return yield(k, nil) })
		if err != nil {
			yield("", err)
		}
	}
}

// walkMerged walks bucket in key order, merging the file's records with log,
// the log's records (the overlay's, in key order) that the file lacks: a log
// record shadows the file's record of its key, and a logged delete hides it.
// It turns each record into an item with fromFile or fromLog and hands it to
// yield until yield returns false. It reads scanChunk items per read
// transaction and calls yield outside any, so yield may call the Store. The
// error is a failure to read (store.ErrClosed, ctx's error); walkMerged
// returns nil when the walk ended or yield stopped it.
//
// log is a snapshot of the overlay taken once, before the first transaction
// begins, rather than one per chunk: a snapshot costs a copy and a sort of
// the bucket's overlay, and with one per scan a chunk costs only its own
// records. It is correct because of the order of the two steps: a commit is
// in the overlay before its done is called, and a checkpoint commits its
// records into the file before it drops them from the overlay, so every
// commit reported before the walk began is in log, or is in the file for
// every transaction begun after log was taken (possibly replaced by a newer
// version). The reverse order, file first, could miss records that a
// checkpoint moved in between. A record committed during the walk may show
// in its newer version (when the file has it and log does not), and a
// record of log shows as log has it even when a later checkpoint put a newer
// version into the file; none shows twice, as log's keys shadow the file's.
func walkMerged[T any](s *Store, ctx context.Context, bucket string, log []overlayItem,
	fromFile func(k, v []byte) T, fromLog func(*overlayItem) T, yield func(T) bool) error {
	name := []byte(bucket)
	chunk := make([]T, 0, scanChunk)
	var after []byte // the last key walked past, nil before the first
	for {
		chunk = chunk[:0]
		err := s.view(ctx, func(tx *bolt.Tx) error {
			var c *bolt.Cursor
			var k, v []byte
			if b := tx.Bucket(name); b != nil {
				c = b.Cursor()
				if after == nil {
					k, v = c.First()
				} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for len(chunk) < scanChunk && (k != nil || len(log) > 0) {
				if err := ctx.Err(); err != nil {
					return err
				}
				if len(log) > 0 && (k == nil || log[0].key <= string(k)) {
					it := &log[0]
					log = log[1:]
					if k != nil && it.key == string(k) {
						k, v = c.Next() // shadowed
					}
					after = append(after[:0], it.key...)
					if it.present {
						chunk = append(chunk, fromLog(it))
					}
					continue
				}
				chunk = append(chunk, fromFile(k, v))
				after = append(after[:0], k...)
				k, v = c.Next()
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, it := range chunk {
			if !yield(it) {
				return nil
			}
		}
		if len(chunk) < scanChunk {
			return nil
		}
	}
}

// Buckets lists every bucket in name order with its size. Errors:
// store.ErrClosed, ctx's error.
//
// Keys counts the records of the file and of the write-ahead log, merged as
// Scan merges them, so it includes every commit reported before the call;
// Buckets never waits for the committer. Bytes and InUse describe the file's
// pages: records still only in the log take none until a checkpoint (never,
// in a read-only Store), and a bucket only the log has shows 0 for both.
func (s *Store) Buckets(ctx context.Context) ([]BucketInfo, error) {
	log := s.overlay.snapshot() // before the transaction, as in walkMerged
	var out []BucketInfo
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if string(name) == metaBucket {
				return nil
			}
			st := b.Stats()
			info := BucketInfo{
				Name:  string(name),
				Keys:  st.KeyN,
				Bytes: int64(st.BranchAlloc + st.LeafAlloc + st.InlineBucketInuse),
				InUse: int64(st.BranchInuse + st.LeafInuse + st.InlineBucketInuse),
			}
			if entries := log[info.Name]; len(entries) > 0 {
				c := b.Cursor()
				for key, e := range entries {
					k, _ := c.Seek([]byte(key))
					inFile := k != nil && string(k) == key
					switch {
					case e.present && !inFile:
						info.Keys++
					case !e.present && inFile:
						info.Keys--
					}
				}
				delete(log, info.Name)
			}
			out = append(out, info)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// Buckets only the log has; a checkpoint creates a bucket for a put,
	// not for a delete.
	for name, entries := range log {
		n := 0
		for _, e := range entries {
			if e.present {
				n++
			}
		}
		if n > 0 {
			out = append(out, BucketInfo{Name: name, Keys: n})
		}
	}
	slices.SortFunc(out, func(a, b BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Verify reads every record of every bucket, those of the file in one read
// transaction merged with those of the write-ahead log as Scan merges them,
// and then checks bbolt's own pages in the same transaction (bbolt's
// Tx.Check: every page reachable once, of the right type, keys in order,
// the freelist consistent). It returns one store.CorruptError per damaged
// record, in bucket and key order, preceded by one per problem with the
// pages, which have an empty Bucket and Key and a Reason starting with
// "page"; it never waits for the committer. A page so damaged that reading
// stops on it is one such entry, and the records after it are not read.
// The error is for failing to read at all (store.ErrClosed, ctx's error).
func (s *Store) Verify(ctx context.Context) ([]store.CorruptError, error) {
	log := s.overlay.snapshot() // before the transaction, as in walkMerged
	var bad, pages []store.CorruptError
	report := func(err error) {
		var ce *store.CorruptError
		if errors.As(err, &ce) {
			bad = append(bad, *ce)
		}
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		err := guard(s.path, func() error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				// The Store's own bucket is walked too, for its pages.
				own := string(name) == metaBucket
				entries := log[string(name)]
				c := b.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					if err := ctx.Err(); err != nil {
						return err
					}
					if _, shadowed := entries[string(k)]; shadowed || own {
						continue // verified below, as the log has it
					}
					if _, err := decodeAt(v, string(name), string(k)); err != nil {
						report(err)
					}
				}
				return nil
			})
		})
		if errors.Is(err, store.ErrCorrupt) {
			// bbolt stopped on a damaged page. Its page check would walk
			// into the same page on a goroutine of its own, where a fault
			// cannot be recovered.
			pages = append(pages, store.CorruptError{Reason: "page damage stopped reading the records: " + err.Error()})
			return nil
		}
		if err != nil {
			return err
		}
		// Every page the check reads, the walk above has read without
		// faulting, which makes it safe on bbolt's goroutine.
		for err := range tx.Check() {
			pages = append(pages, store.CorruptError{Reason: "page check: " + err.Error()})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for bucket, entries := range log {
		for key, e := range entries {
			if e.present {
				if _, err := decodeAt(e.value, bucket, key); err != nil {
					report(err)
				}
			}
		}
	}
	slices.SortFunc(bad, func(a, b store.CorruptError) int {
		return cmp.Or(strings.Compare(a.Bucket, b.Bucket), strings.Compare(a.Key, b.Key))
	})
	return append(pages, bad...), nil
}

// view runs fn in a read transaction, mapping a closed database to
// store.ErrClosed and a damaged page that makes bbolt panic or fault to an
// error wrapping store.ErrCorrupt (see guard: fn must do its work on the
// calling goroutine and call nothing outside this package).
func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed.Load() {
		return store.ErrClosed
	}
	// bbolt's View rolls its transaction back when fn panics, before guard
	// recovers.
	err := guard(s.path, func() error { return s.db.View(fn) })
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// decodeAt decodes a value read from bucket and key; a nil value is a nested
// bucket, which this package never creates.
func decodeAt(v []byte, bucket, key string) (store.Record, error) {
	if v == nil {
		return store.Record{}, &store.CorruptError{Bucket: bucket, Key: key, Reason: "key holds a nested bucket, not a record"}
	}
	r, err := DecodeRecord(v)
	if err != nil {
		return store.Record{}, store.Located(err, bucket, key)
	}
	return r, nil
}

// Changes yields one error wrapping store.ErrUnsupported: a Store holds its
// file's lock, so no other handle can commit to it.
func (s *Store) Changes(ctx context.Context) iter.Seq2[store.Change, error] {
	return func(yield func(store.Change, error) bool) {
		yield(store.Change{}, fmt.Errorf("boltstore: no other writer can share the file: %w", store.ErrUnsupported))
	}
}
