package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// badgerSystem is the read model as a competent user writes it on Badger v4
// with SyncWrites: under the per-key lock the other peers take, per event
// one db.Update that gets the row, folds and sets it; ApplyBatch folds its
// events in one Update that writes each key once.
//
// No transaction is retried on ErrConflict, because none can conflict:
// Badger reports a conflict when a key the transaction read was committed
// by another transaction after this one began, and here a transaction that
// reads a key holds the key's lock from before it begins until its commit
// has returned, by when Badger has made the commit visible to every
// transaction that begins later. (Badger tracks read keys by a 64-bit hash,
// so two colliding keys could conflict; that would fail the cell's apply,
// not pass unseen.)
type badgerSystem struct {
	db     *badger.DB
	folder folder
	locks  keyLocks
}

func openBadger(path string, o openOptions) (system, error) {
	// Warnings and errors only: at the default level Badger logs every
	// open, flush and close, which would bury the harness's progress.
	opts := badger.DefaultOptions(path).WithSyncWrites(true).WithLoggingLevel(badger.WARNING)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, err
	}
	return &badgerSystem{db: db, folder: newFolder(o.stateBytes)}, nil
}

func (b *badgerSystem) apply(_ context.Context, e event) error {
	defer b.locks.lock(e.Key)()
	return b.db.Update(func(txn *badger.Txn) error {
		r, err := b.load(txn, e.Key)
		if err != nil {
			return err
		}
		b.folder.fold(&r.State, e)
		r.Version++
		return b.set(txn, e.Key, &r)
	})
}

func (b *badgerSystem) applyBatch(_ context.Context, events []event) error {
	defer b.locks.lockAll(events)()
	return b.db.Update(func(txn *badger.Txn) error {
		keys, rows, err := foldPeerRows(b.folder, events, func(key string) (peerRow, error) { return b.load(txn, key) })
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.set(txn, k, rows[k]); err != nil {
				return err
			}
		}
		return nil
	})
}

// load returns key's row as txn sees it, or the zero row if there is none.
func (b *badgerSystem) load(txn *badger.Txn, key string) (peerRow, error) {
	item, err := txn.Get(peerKey(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return peerRow{}, nil
	}
	if err != nil {
		return peerRow{}, err
	}
	var r peerRow
	err = item.Value(func(v []byte) error {
		r, err = decodePeerRow(v)
		return err
	})
	return r, err
}

func (b *badgerSystem) set(txn *badger.Txn, key string, r *peerRow) error {
	v, err := encodePeerRow(r)
	if err != nil {
		return err
	}
	return txn.Set(peerKey(key), v)
}

func (b *badgerSystem) read(_ context.Context, key string) (account, uint64, bool, error) {
	var r peerRow
	ok := false
	err := b.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(peerKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		return item.Value(func(v []byte) error {
			r, err = decodePeerRow(v)
			return err
		})
	})
	return r.State, r.Version, ok, err
}

// rebuild folds events in memory and replaces key's row in one Update.
func (b *badgerSystem) rebuild(_ context.Context, key string, events iter.Seq[event]) error {
	defer b.locks.lock(key)()
	var r peerRow
	for e := range events {
		b.folder.fold(&r.State, e)
		r.Version++
	}
	return b.db.Update(func(txn *badger.Txn) error { return b.set(txn, key, &r) })
}

func (b *badgerSystem) rebuildAll(context.Context, iter.Seq[event], int, int) error {
	return fmt.Errorf(badgerSync+": rebuild of every key: %w", errors.ErrUnsupported)
}

// syncs returns 0: Badger does not count its syncs, and its counts of log
// writes are process-wide expvars shared by every open database.
func (b *badgerSystem) syncs() uint64 { return 0 }

func (b *badgerSystem) note(time.Duration) string {
	return fmt.Sprintf("one Update per call, SyncWrites, lock map %d keys", b.locks.size())
}

func (b *badgerSystem) close() error { return b.db.Close() }
