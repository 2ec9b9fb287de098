package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// sqliteSystem is the original runtime's algorithm (ferro_projection's): its
// table, a per-key mutex, and per event one transaction that selects the
// row, folds and upserts.
type sqliteSystem struct {
	db     *sql.DB
	sync   string
	folder folder
	locks  keyLocks
	sel    *sql.Stmt
	upsert *sql.Stmt
	del    *sql.Stmt
}

const (
	sqliteSchema = `CREATE TABLE IF NOT EXISTS projection_snapshots (
		projection_name TEXT NOT NULL,
		key TEXT NOT NULL,
		state TEXT NOT NULL,
		version INTEGER NOT NULL,
		updated_at TEXT NOT NULL,
		PRIMARY KEY (projection_name, key))`
	sqliteSelect = `SELECT state, version FROM projection_snapshots WHERE projection_name = ? AND key = ?`
	sqliteUpsert = `INSERT INTO projection_snapshots (projection_name, key, state, version, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (projection_name, key) DO UPDATE
		SET state = excluded.state, version = excluded.version, updated_at = excluded.updated_at`
	sqliteDelete = `DELETE FROM projection_snapshots WHERE projection_name = ? AND key = ?`
)

func openSQLite(path, syncMode string, o openOptions) (system, error) {
	dsn := fmt.Sprintf("file:%s?_journal_mode=WAL&_synchronous=%s&_busy_timeout=10000&_txlock=immediate", path, syncMode)
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: SQLite has one writer anyway, and queueing in
	// database/sql beats sleeping in SQLite's busy handler.
	db.SetMaxOpenConns(1)
	s := &sqliteSystem{db: db, sync: syncMode, folder: newFolder(o.stateBytes)}
	if err := s.prepare(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *sqliteSystem) prepare() error {
	if _, err := s.db.Exec(sqliteSchema); err != nil {
		return fmt.Errorf("sqlite schema: %w", err)
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		return fmt.Errorf("sqlite journal_mode = %q, %v; want wal", mode, err)
	}
	var err error
	if s.sel, err = s.db.Prepare(sqliteSelect); err != nil {
		return err
	}
	if s.upsert, err = s.db.Prepare(sqliteUpsert); err != nil {
		return err
	}
	s.del, err = s.db.Prepare(sqliteDelete)
	return err
}

func (s *sqliteSystem) apply(ctx context.Context, e event) error {
	defer s.locks.lock(e.Key)()
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.foldOne(ctx, tx, e) })
}

func (s *sqliteSystem) applyBatch(ctx context.Context, events []event) error {
	defer s.locks.lockAll(events)()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, e := range events {
			if err := s.foldOne(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// foldOne is the original runtime's step: SELECT the row, fold, UPSERT.
func (s *sqliteSystem) foldOne(ctx context.Context, tx *sql.Tx, e event) error {
	st, version, _, err := s.load(ctx, tx.StmtContext(ctx, s.sel), e.Key)
	if err != nil {
		return err
	}
	s.folder.fold(&st, e)
	return s.store(ctx, tx, e.Key, &st, version+1)
}

func (s *sqliteSystem) load(ctx context.Context, sel *sql.Stmt, key string) (account, uint64, bool, error) {
	var st account
	var raw []byte
	var version uint64
	err := sel.QueryRowContext(ctx, projectionName, key).Scan(&raw, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return st, 0, false, nil
	}
	if err != nil {
		return st, 0, false, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, 0, false, err
	}
	return st, version, true, nil
}

func (s *sqliteSystem) store(ctx context.Context, tx *sql.Tx, key string, st *account, version uint64) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, s.upsert).ExecContext(ctx, projectionName, key, raw, version, time.Now().UTC().Format(time.RFC3339Nano))
	return err
}

func (s *sqliteSystem) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *sqliteSystem) read(ctx context.Context, key string) (account, uint64, bool, error) {
	return s.load(ctx, s.sel, key)
}

// rebuild is the original runtime's rebuild made transactional: DELETE and
// the folded INSERT in one transaction (it runs them as two, so a crash
// between them loses the row, and pays two commits).
func (s *sqliteSystem) rebuild(ctx context.Context, key string, events iter.Seq[event]) error {
	defer s.locks.lock(key)()
	var st account
	var n uint64
	for e := range events {
		s.folder.fold(&st, e)
		n++
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.StmtContext(ctx, s.del).ExecContext(ctx, projectionName, key); err != nil {
			return err
		}
		return s.store(ctx, tx, key, &st, n)
	})
}

// rebuildAll is not in the original runtime, which rebuilds one key at a
// time.
func (s *sqliteSystem) rebuildAll(context.Context, iter.Seq[event], int, int) error {
	return fmt.Errorf("sqlite: rebuild of every key: %w", errors.ErrUnsupported)
}

// syncs returns 0: SQLite does not count its syncs.
func (s *sqliteSystem) syncs() uint64 { return 0 }

func (s *sqliteSystem) note(time.Duration) string {
	return fmt.Sprintf("1 connection, WAL, synchronous=%s, lock map %d keys", s.sync, s.locks.size())
}

func (s *sqliteSystem) close() error {
	return errors.Join(s.sel.Close(), s.upsert.Close(), s.del.Close(), s.db.Close())
}
