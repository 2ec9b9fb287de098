package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltNaive stores the original runtime's row as JSON in bbolt with one db.Update per
// event: every event pays a whole transaction and its fsyncs.
type boltNaive struct {
	db     *bolt.DB
	folder folder
	locks  keyLocks
}

// boltRow is the original runtime's row, as JSON.
type boltRow struct {
	State     account   `json:"state"`
	Version   uint64    `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

func openBoltNaive(path string, o openOptions) (system, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	return &boltNaive{db: db, folder: newFolder(o.stateBytes)}, nil
}

func (b *boltNaive) apply(_ context.Context, e event) error {
	defer b.locks.lock(e.Key)()
	return b.db.Update(func(tx *bolt.Tx) error { return b.foldOne(tx, e) })
}

func (b *boltNaive) applyBatch(_ context.Context, events []event) error {
	defer b.locks.lockAll(events)()
	return b.db.Update(func(tx *bolt.Tx) error {
		for _, e := range events {
			if err := b.foldOne(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *boltNaive) foldOne(tx *bolt.Tx, e event) error {
	bk, err := tx.CreateBucketIfNotExists([]byte(projectionName))
	if err != nil {
		return err
	}
	var row boltRow
	if v := bk.Get([]byte(e.Key)); v != nil {
		if err := json.Unmarshal(v, &row); err != nil {
			return err
		}
	}
	b.folder.fold(&row.State, e)
	row.Version++
	row.UpdatedAt = time.Now().UTC()
	v, err := json.Marshal(&row)
	if err != nil {
		return err
	}
	return bk.Put([]byte(e.Key), v)
}

func (b *boltNaive) read(_ context.Context, key string) (account, uint64, bool, error) {
	var row boltRow
	var ok bool
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(projectionName))
		if bk == nil {
			return nil
		}
		v := bk.Get([]byte(key))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &row)
	})
	return row.State, row.Version, ok, err
}

func (b *boltNaive) rebuild(_ context.Context, key string, events iter.Seq[event]) error {
	defer b.locks.lock(key)()
	var row boltRow
	for e := range events {
		b.folder.fold(&row.State, e)
		row.Version++
	}
	row.UpdatedAt = time.Now().UTC()
	v, err := json.Marshal(&row)
	if err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(projectionName))
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), v)
	})
}

func (b *boltNaive) rebuildAll(context.Context, iter.Seq[event], int, int) error {
	return fmt.Errorf("bolt-naive: rebuild of every key: %w", errors.ErrUnsupported)
}

// syncs returns 0: bbolt does not count its syncs.
func (b *boltNaive) syncs() uint64 { return 0 }

func (b *boltNaive) note(time.Duration) string {
	return fmt.Sprintf("one db.Update per call, fsync on, lock map %d keys", b.locks.size())
}

func (b *boltNaive) close() error { return b.db.Close() }
