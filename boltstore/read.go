package boltstore

import (
	"bytes"
	"context"
	"errors"

	"iter"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// KeyRecord is one entry yielded by Scan.
type KeyRecord struct {
	Key    string
	Record Record
}

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
// Record.State is a fresh copy owned by the caller.
//
// A damaged record returns an error satisfying errors.Is(err, ErrCorrupt), a
// *CorruptError naming bucket, key and reason; Get never interprets bytes that
// failed verification. Invalid names return ErrInvalidBucket or
// ErrInvalidKey, and a closed Store ErrClosed.
func (s *Store) Get(ctx context.Context, bucket, key string) (Record, bool, error) {
	if err := validBucketKey(bucket, key); err != nil {
		return Record{}, false, err
	}
	if s.overlay != nil && !s.isClosed.Load() {
		if e, ok := s.overlay.get(bucket, key); ok {
			if !e.present {
				return Record{}, false, nil
			}
			r, err := decodeAt(e.value, bucket, key)
			if err != nil {
				return Record{}, false, err
			}
			r.State = bytes.Clone(r.State) // the log's bytes stay with the store
			return r, true, nil
		}
	}
	var (
		rec   Record
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
		return Record{}, false, err
	}
	return rec, found, nil
}

// scanChunk is how many records Scan reads per read transaction.
const scanChunk = 256

// Scan walks bucket in key order and yields each record with a nil error, or,
// for a damaged record, its key with an error satisfying errors.Is(err,
// ErrCorrupt), and continues. An absent bucket yields nothing. A failure to
// read at all (ErrClosed, ErrInvalidBucket, ErrReentrant, ErrCommit when the
// write-ahead log cannot be folded into the file first, ctx's error, checked
// before every record) is yielded once as the last element. Each yielded
// Record.State is a fresh copy owned by the caller.
//
// Scan sees every commit reported before it was called. It reads records in
// chunks, each in its own read transaction, and holds none while the loop
// body runs, so the body may call any method of the Store; a record committed
// again during the scan may be seen in its newer version.
func (s *Store) Scan(ctx context.Context, bucket string) iter.Seq2[KeyRecord, error] {
	type item struct {
		kr  KeyRecord
		err error
	}
	return func(yield func(KeyRecord, error) bool) {
		if err := validBucketKey(bucket, "-"); err != nil {
			yield(KeyRecord{}, err)
			return
		}
		if err := s.flush(ctx); err != nil {
			yield(KeyRecord{}, err)
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
					it := item{kr: KeyRecord{Key: string(k)}, err: err}
					if err == nil {
						r.State = bytes.Clone(r.State) // bbolt's bytes are valid only inside the transaction
						it.kr.Record = r
					}
					chunk = append(chunk, it)
				}
				return nil
			})
			if err != nil {
				yield(KeyRecord{}, err)
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
// write-ahead log into the file. Errors: ErrClosed, ErrReentrant (from inside
// a done callback), ErrCommit (the log could not be folded in), ctx's error.
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
// returns one CorruptError per damaged record, in bucket and key order. The
// error is for failing to read at all (ErrClosed, ErrReentrant, ErrCommit,
// ctx's error, as for Buckets). It first folds the write-ahead log into the
// file. Verify checks records, not bbolt's page structure (see bbolt's own
// check command).
func (s *Store) Verify(ctx context.Context) ([]CorruptError, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	var bad []CorruptError
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				if _, err := decodeAt(v, string(name), string(k)); err != nil {
					var ce *CorruptError
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

// view runs fn in a read transaction, mapping a closed database to ErrClosed.
func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed.Load() {
		return ErrClosed
	}
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// decodeAt decodes a value read from bucket and key; a nil value is a nested
// bucket, which this package never creates.
func decodeAt(v []byte, bucket, key string) (Record, error) {
	if v == nil {
		return Record{}, &CorruptError{Bucket: bucket, Key: key, Reason: "key holds a nested bucket, not a record"}
	}
	r, err := DecodeRecord(v)
	if err != nil {
		return Record{}, located(err, bucket, key)
	}
	return r, nil
}
