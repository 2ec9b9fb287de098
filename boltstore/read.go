package boltstore

import (
	"bytes"
	"context"
	"errors"

	"github.com/livefold/livefold/store"

	"iter"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// BucketInfo describes one bucket (projection) in the file.
type BucketInfo struct {
	Name string
	Keys int // number of records
	// Bytes is the size of the pages allocated to the bucket; InUse the part
	// of them holding data. A small bucket lives inline in its parent's page
	// (bbolt), and then both are its inline size.
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

// scanChunk is how many records Scan reads per read transaction.
const scanChunk = 256

// Scan walks bucket in key order and yields each record with a nil error, or,
// for a damaged record, its key with an error satisfying errors.Is(err,
// store.ErrCorrupt), and continues. An absent bucket yields nothing. A failure to
// read at all (store.ErrClosed, store.ErrInvalidName, ErrReentrant, store.ErrCommit when the
// write-ahead log cannot be folded into the file first, ctx's error, checked
// before every record) is yielded once as the last element. Each yielded
// store.Record.State is a fresh copy owned by the caller.
//
// Scan sees every commit reported before it was called. It reads records in
// chunks, each in its own read transaction, and holds none while the loop
// body runs, so the body may call any method of the Store; a record committed
// again during the scan may be seen in its newer version.
func (s *Store) Scan(ctx context.Context, bucket string) iter.Seq2[store.KeyRecord, error] {
	type item struct {
		kr  store.KeyRecord
		err error
	}
	return func(yield func(store.KeyRecord, error) bool) {
		if err := validBucketKey(bucket, "-"); err != nil {
			yield(store.KeyRecord{}, err)
			return
		}
		if err := s.flush(ctx); err != nil {
			yield(store.KeyRecord{}, err)
			return
		}
		var after []byte // the last key yielded
		chunk := make([]item, 0, scanChunk)
		for {
			chunk = chunk[:0]
			err := s.view(ctx, func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte(bucket))
				if b == nil {
					return nil
				}
				c := b.Cursor()
				k, v := c.First()
				if after != nil {
					if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
						k, v = c.Next()
					}
				}
				for ; k != nil && len(chunk) < scanChunk; k, v = c.Next() {
					if err := ctx.Err(); err != nil {
						return err
					}
					r, err := decodeAt(v, bucket, string(k))
					it := item{kr: store.KeyRecord{Key: string(k)}, err: err}
					if err == nil {
						r.State = bytes.Clone(r.State) // bbolt's bytes are valid only inside the transaction
						it.kr.Record = r
					}
					chunk = append(chunk, it)
				}
				return nil
			})
			if err != nil {
				yield(store.KeyRecord{}, err)
				return
			}
			for _, it := range chunk {
				if !yield(it.kr, it.err) {
					return
				}
			}
			if len(chunk) < scanChunk {
				return
			}
			after = []byte(chunk[len(chunk)-1].kr.Key)
		}
	}
}

// Buckets lists every bucket in name order with its size, after folding the
// write-ahead log into the file. Errors: store.ErrClosed, ErrReentrant (from inside
// a done callback), store.ErrCommit (the log could not be folded in), ctx's error.
func (s *Store) Buckets(ctx context.Context) ([]BucketInfo, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	var out []BucketInfo
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			st := b.Stats()
			out = append(out, BucketInfo{
				Name:  string(name),
				Keys:  st.KeyN,
				Bytes: int64(st.BranchAlloc + st.LeafAlloc + st.InlineBucketInuse),
				InUse: int64(st.BranchInuse + st.LeafInuse + st.InlineBucketInuse),
			})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Verify reads every record of every bucket in one read transaction and
// returns one store.CorruptError per damaged record, in bucket and key order. The
// error is for failing to read at all (store.ErrClosed, ErrReentrant, store.ErrCommit,
// ctx's error, as for Buckets). It first folds the write-ahead log into the
// file. Verify checks records, not bbolt's page structure (see bbolt's own
// check command).
func (s *Store) Verify(ctx context.Context) ([]store.CorruptError, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	var bad []store.CorruptError
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				if _, err := decodeAt(v, string(name), string(k)); err != nil {
					var ce *store.CorruptError
					if errors.As(err, &ce) {
						bad = append(bad, *ce)
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return bad, nil
}

// view runs fn in a read transaction, mapping a closed database to store.ErrClosed.
func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed.Load() {
		return store.ErrClosed
	}
	err := s.db.View(fn)
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

// Keys yields every key of bucket that holds a record, in key order; see
// store.Store.
func (s *Store) Keys(ctx context.Context, bucket string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for kr, err := range s.Scan(ctx, bucket) {
			if err != nil && !errors.Is(err, store.ErrCorrupt) {
				yield("", err)
				return
			}
			if !yield(kr.Key, nil) {
				return
			}
		}
	}
}
