package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/livefold/livefold/store"
)

// Concurrent Gets share queries, as concurrent requests share commits: a
// getter goroutine takes a Get off the queue, with every other one queued
// then (up to maxGetBatch), and reads them in one query, so that many
// callers reading keys the runtime has not cached cost one round trip, not
// one each, and no more connections than getters. A lone Get waits for no
// company.
const (
	getters     = 2
	maxGetBatch = 256
)

// getReq is one Get waiting for its record.
type getReq struct {
	ctx         context.Context
	bucket, key string // as stored
	done        chan getResult
}

// getResult is a Get's answer: the row, if found, whether its digest
// matches, or the failure of the query.
type getResult struct {
	row           storedRow
	found, intact bool
	err           error
}

// get queues a Get and waits for its result, until ctx ends or Close
// begins.
func (s *Store) get(ctx context.Context, bucket, key string) (getResult, error) {
	g := &getReq{ctx: ctx, bucket: bucket, key: key, done: make(chan getResult, 1)}
	if err := s.enqueueGet(ctx, g); err != nil {
		return getResult{}, err
	}
	select {
	case r := <-g.done:
		return r, nil
	case <-ctx.Done():
		return getResult{}, ctx.Err()
	}
}

func (s *Store) enqueueGet(ctx context.Context, g *getReq) error {
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed {
		return fmt.Errorf("pgstore: %w", store.ErrClosed)
	}
	select {
	case s.gets <- g:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return fmt.Errorf("pgstore: %w", store.ErrClosed)
	}
}

// getter is a getter goroutine: it reads queued Gets until Close closes
// the queue.
func (s *Store) getter() {
	defer s.getting.Done()
	batch := make([]*getReq, 0, maxGetBatch)
	for {
		g, ok := <-s.gets
		if !ok {
			return
		}
		batch = append(batch[:0], g)
	drain:
		for len(batch) < maxGetBatch {
			select {
			case g, ok := <-s.gets:
				if !ok {
					break drain
				}
				batch = append(batch, g)
			default:
				break drain
			}
		}
		s.getBatch(batch)
		clear(batch)
	}
}

// getBatch reads the records of batch in one query and answers each Get.
// The query runs until it is answered or every Get of it has given up.
func (s *Store) getBatch(batch []*getReq) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waiting atomic.Int32
	waiting.Store(int32(len(batch)))
	for _, g := range batch {
		stop := context.AfterFunc(g.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	results := make([]getResult, len(batch))
	if len(batch) == 1 {
		r := &results[0]
		err := s.pool.QueryRow(ctx, s.sql.get, batch[0].bucket, batch[0].key).
			Scan(&r.row.version, &r.row.stamp, &r.row.lineage, &r.row.position, &r.row.updatedAt, &r.row.state, &r.intact)
		r.found = err == nil
		if !errors.Is(err, pgx.ErrNoRows) {
			r.err = err
		}
	} else if err := s.queryMany(ctx, batch, results); err != nil {
		for i := range results {
			results[i] = getResult{err: err}
		}
	}
	for i, g := range batch {
		g.done <- results[i]
	}
}

// queryMany reads the records of batch into results.
func (s *Store) queryMany(ctx context.Context, batch []*getReq, results []getResult) error {
	buckets, keys := make([]string, len(batch)), make([]string, len(batch))
	for i, g := range batch {
		buckets[i], keys[i] = g.bucket, g.key
	}
	rows, err := s.pool.Query(ctx, s.sql.getMany, buckets, keys)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			i   int64
			row storedRow
			ok  bool
		)
		if err := rows.Scan(&i, &row.version, &row.stamp, &row.lineage, &row.position, &row.updatedAt, &row.state, &ok); err != nil {
			return err
		}
		if i < 1 || i > int64(len(batch)) {
			return fmt.Errorf("pgstore: the read named Get %d of %d", i, len(batch))
		}
		results[i-1] = getResult{row: row, found: true, intact: ok}
	}
	return rows.Err()
}
