package pgstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/livefold/livefold/store"
)

// Walks read a bucket a page at a time, on a connection held only while a
// page is read, never while the caller's loop body runs. A Scan page holds
// at most scanMaxRows records and shrinks while its states are large, so
// that a page of large states stays about scanPageBytes.
const (
	scanFirstRows = 64
	scanMaxRows   = 1024
	scanPageBytes = 8 << 20
	keysPageRows  = 1000
)

// Get returns the record of key in bucket and whether it exists; see
// store.Store. Concurrent Gets share one query. The returned State belongs
// to the caller. Errors:
// store.ErrInvalidName, store.ErrInvalidKey, store.ErrCorrupt (the row's
// digest does not match it: the row was changed other than through a
// Store), store.ErrClosed, ctx's error, and the database's.
func (s *Store) Get(ctx context.Context, bucket, key string) (store.Record, bool, error) {
	if err := s.checkRead(bucket); err != nil {
		return store.Record{}, false, err
	}
	if err := store.CheckKey(key); err != nil {
		return store.Record{}, false, fmt.Errorf("pgstore: bucket %q: %w", bucket, err)
	}
	r, err := s.get(ctx, escape(bucket), escape(key))
	if err == nil {
		err = r.err
	}
	switch {
	case errors.Is(err, store.ErrClosed):
		return store.Record{}, false, err
	case err != nil:
		return store.Record{}, false, s.readErr(ctx, err, "get bucket %q key %q", bucket, store.QuoteKey(key))
	case !r.found:
		return store.Record{}, false, nil
	case !r.intact:
		return store.Record{}, false, &store.CorruptError{Bucket: bucket, Key: key, Reason: "digest mismatch"}
	}
	return r.row.record(), true, nil
}

// Scan yields every record of bucket in key order, a page at a time; see
// store.Store. A damaged record is yielded as its key with a
// *store.CorruptError, and the walk carries on. The walk is not a snapshot:
// a record written while it runs is seen if its key is after the page being
// read. States belong to the caller. A cancelled ctx ends the walk with
// ctx's error; so does Close, with store.ErrClosed.
func (s *Store) Scan(ctx context.Context, bucket string) iter.Seq2[store.KeyRecord, error] {
	return func(yield func(store.KeyRecord, error) bool) {
		if err := s.checkRead(bucket); err != nil {
			yield(store.KeyRecord{}, err)
			return
		}
		name, after, rows := escape(bucket), "", scanFirstRows
		for {
			page, size, err := s.scanPage(ctx, bucket, name, after, rows)
			if err != nil {
				yield(store.KeyRecord{}, err)
				return
			}
			for _, it := range page {
				if err := ctx.Err(); err != nil {
					yield(store.KeyRecord{}, err)
					return
				}
				if !yield(it.kr, it.err) {
					return
				}
			}
			if len(page) < rows {
				return
			}
			after = page[len(page)-1].stored
			switch {
			case size > scanPageBytes:
				rows = max(rows/2, 1)
			case size < scanPageBytes/4:
				rows = min(rows*2, scanMaxRows)
			}
		}
	}
}

// scanItem is one element of a Scan page.
type scanItem struct {
	stored string // the key as stored, where the next page starts
	kr     store.KeyRecord
	err    error
}

// scanPage reads up to rows records of bucket (stored as name) after the
// stored key after, and returns them with the bytes of their states.
func (s *Store) scanPage(ctx context.Context, bucket, name, after string, rows int) ([]scanItem, int, error) {
	if err := s.checkWalk(ctx); err != nil {
		return nil, 0, err
	}
	r, err := s.pool.Query(ctx, s.sql.scan, name, after, rows)
	if err != nil {
		return nil, 0, s.readErr(ctx, err, "scan bucket %q", bucket)
	}
	defer r.Close()
	var (
		page   []scanItem
		size   int
		row    storedRow
		intact bool
	)
	for r.Next() {
		var it scanItem
		if err := r.Scan(&it.stored, &row.version, &row.stamp, &row.lineage, &row.position, &row.updatedAt, &row.state, &intact); err != nil {
			return nil, 0, s.readErr(ctx, err, "scan bucket %q", bucket)
		}
		size += len(row.state)
		key, ok := unescape(it.stored)
		switch {
		case !ok:
			it.kr.Key = it.stored
			it.err = &store.CorruptError{Bucket: bucket, Key: it.stored, Reason: "key not written by pgstore"}
		case !intact:
			it.kr.Key = key
			it.err = &store.CorruptError{Bucket: bucket, Key: key, Reason: "digest mismatch"}
		default:
			it.kr = store.KeyRecord{Key: key, Record: row.record()}
		}
		page = append(page, it)
	}
	if err := r.Err(); err != nil {
		return nil, 0, s.readErr(ctx, err, "scan bucket %q", bucket)
	}
	return page, size, nil
}

// Keys yields every key of bucket that holds a record, damaged or not, in
// key order, without reading states; see store.Store. Like Scan, it reads a
// page at a time and is not a snapshot. A key that was not written by a
// Store (an invalid escape, see the package documentation) is yielded with
// a *store.CorruptError, and the walk carries on.
func (s *Store) Keys(ctx context.Context, bucket string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if err := s.checkRead(bucket); err != nil {
			yield("", err)
			return
		}
		name, after := escape(bucket), ""
		for {
			page, err := s.keysPage(ctx, bucket, name, after)
			if err != nil {
				yield("", err)
				return
			}
			for _, stored := range page {
				if err := ctx.Err(); err != nil {
					yield("", err)
					return
				}
				key, ok := unescape(stored)
				var err error
				if !ok {
					key, err = stored, &store.CorruptError{Bucket: bucket, Key: stored, Reason: "key not written by pgstore"}
				}
				if !yield(key, err) {
					return
				}
			}
			if len(page) < keysPageRows {
				return
			}
			after = page[len(page)-1]
		}
	}
}

// keysPage reads up to keysPageRows stored keys of bucket after after.
func (s *Store) keysPage(ctx context.Context, bucket, name, after string) ([]string, error) {
	if err := s.checkWalk(ctx); err != nil {
		return nil, err
	}
	r, err := s.pool.Query(ctx, s.sql.keys, name, after, keysPageRows)
	if err != nil {
		return nil, s.readErr(ctx, err, "keys of bucket %q", bucket)
	}
	keys, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		return nil, s.readErr(ctx, err, "keys of bucket %q", bucket)
	}
	return keys, nil
}

// checkRead refuses a read of a closed store or of an invalid bucket name.
func (s *Store) checkRead(bucket string) error {
	if s.isClosed.Load() {
		return fmt.Errorf("pgstore: %w", store.ErrClosed)
	}
	if err := store.CheckName(bucket); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	return nil
}

// checkWalk ends a walk before its next page once ctx ended or Close began.
func (s *Store) checkWalk(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed.Load() {
		return fmt.Errorf("pgstore: %w", store.ErrClosed)
	}
	return nil
}

// readErr describes a failed read; the failure of a read cut short by its
// ctx or by Close is that cause, so errors.Is finds it.
func (s *Store) readErr(ctx context.Context, err error, format string, args ...any) error {
	switch {
	case ctx.Err() != nil:
		err = ctx.Err()
	case s.isClosed.Load():
		err = store.ErrClosed
	}
	return fmt.Errorf("pgstore: %s: %w", fmt.Sprintf(format, args...), err)
}

// storedRow is a row's record columns as the database returns them.
type storedRow struct {
	version, stamp, lineage, position, updatedAt int64
	state                                        []byte
}

// record returns the row's record; the state is the row's own slice, which
// pgx copied out of its buffers.
func (r *storedRow) record() store.Record {
	rec := store.Record{
		Version:  uint64(r.version),
		Stamp:    uint64(r.stamp),
		Lineage:  uint64(r.lineage),
		Position: uint64(r.position),
		State:    r.state,
	}
	if r.updatedAt != math.MinInt64 {
		rec.UpdatedAt = time.Unix(0, r.updatedAt).UTC()
	}
	return rec
}
