package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// pgURLEnv names the PostgreSQL database of the postgres cells; without it
// they are skipped.
const pgURLEnv = "LIVEFOLD_PG_URL"

// pgBaseline is the system the postgres cells are compared to.
const pgBaseline = "pg-naive"

// pgMaxConns is the size of every pool: 10, the default of sqlx, under the
// SeaORM the original runtime used on PostgreSQL. Its algorithm holds
// a connection for each event's transaction, so at most 10 events are in
// flight; 64 connections measured slower at 64 producers on the 2-core
// machine of BENCHMARKS.md, where 64 busy server processes share two
// cores.
const pgMaxConns = 10

// pgKinds returns the systems of the postgres cells, on the database url.
// A system's "path" names its table.
func pgKinds(url string) []systemKind {
	none := func(string) []string { return nil }
	drop := func(path string) error { return dropTable(url, pgTable(path)) }
	return []systemKind{
		{name: pgBaseline, files: none, remove: drop, open: func(path string, o openOptions) (system, error) {
			return openPGNaive(url, pgTable(path), o)
		}},
		{name: "pgstore", files: none, remove: drop, open: func(path string, o openOptions) (system, error) {
			return openPGStore(url, pgTable(path), o)
		}},
	}
}

// pgTable returns the table of a system's path: its file name without the
// extension, which the harness numbers, so every cell has its own table.
func pgTable(path string) string {
	return "lf_bench_" + strings.ReplaceAll(strings.TrimSuffix(filepath.Base(path), ".db"), "-", "_")
}

// newPGPool returns a pool of pgMaxConns connections on url.
func newPGPool(url string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = pgMaxConns
	return pgxpool.NewWithConfig(context.Background(), pc)
}

func dropTable(url, table string) error {
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize())
	return err
}

// pgServer describes the server's durability settings, which bound every
// postgres figure.
func pgServer(ctx context.Context, url string) (string, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	var version, fsync, syncCommit string
	err = pool.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit')`).Scan(&version, &fsync, &syncCommit)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("PostgreSQL %s, fsync=%s, synchronous_commit=%s", version, fsync, syncCommit), nil
}

// pgNaive is the original runtime's algorithm on PostgreSQL: its table
// (with the state in jsonb), a per-key mutex, and per event one
// transaction: BEGIN, SELECT the row, fold, UPSERT, COMMIT.
type pgNaive struct {
	pool   *pgxpool.Pool
	table  string // quoted
	folder folder
	locks  keyLocks
}

func openPGNaive(url, table string, o openOptions) (system, error) {
	pool, err := newPGPool(url)
	if err != nil {
		return nil, err
	}
	s := &pgNaive{pool: pool, table: pgx.Identifier{table}.Sanitize(), folder: newFolder(o.stateBytes)}
	_, err = pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS `+s.table+` (
		projection_name text NOT NULL,
		key text NOT NULL,
		state jsonb NOT NULL,
		version bigint NOT NULL,
		updated_at timestamptz NOT NULL,
		PRIMARY KEY (projection_name, key))`)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *pgNaive) apply(ctx context.Context, e event) error {
	defer s.locks.lock(e.Key)()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.foldOne(ctx, tx, e) })
}

func (s *pgNaive) applyBatch(ctx context.Context, events []event) error {
	defer s.locks.lockAll(events)()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, e := range events {
			if err := s.foldOne(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// foldOne is the original runtime's step: SELECT the row, fold, UPSERT.
func (s *pgNaive) foldOne(ctx context.Context, tx pgx.Tx, e event) error {
	st, version, _, err := s.load(ctx, tx, e.Key)
	if err != nil {
		return err
	}
	s.folder.fold(&st, e)
	return s.store(ctx, tx, e.Key, &st, version+1)
}

// querier is what load needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *pgNaive) load(ctx context.Context, q querier, key string) (account, uint64, bool, error) {
	var st account
	var raw []byte
	var version int64
	err := q.QueryRow(ctx, `SELECT state, version FROM `+s.table+` WHERE projection_name = $1 AND key = $2`,
		projectionName, key).Scan(&raw, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, 0, false, nil
	}
	if err != nil {
		return st, 0, false, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, 0, false, err
	}
	return st, uint64(version), true, nil
}

func (s *pgNaive) store(ctx context.Context, tx pgx.Tx, key string, st *account, version uint64) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+s.table+` (projection_name, key, state, version, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (projection_name, key) DO UPDATE
		SET state = excluded.state, version = excluded.version, updated_at = excluded.updated_at`,
		projectionName, key, string(raw), int64(version), time.Now())
	return err
}

func (s *pgNaive) read(ctx context.Context, key string) (account, uint64, bool, error) {
	return s.load(ctx, s.pool, key)
}

// rebuild is the original runtime's rebuild made transactional: DELETE and the folded
// INSERT in one transaction.
func (s *pgNaive) rebuild(ctx context.Context, key string, events iter.Seq[event]) error {
	defer s.locks.lock(key)()
	var st account
	var n uint64
	for e := range events {
		s.folder.fold(&st, e)
		n++
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM `+s.table+` WHERE projection_name = $1 AND key = $2`, projectionName, key); err != nil {
			return err
		}
		return s.store(ctx, tx, key, &st, n)
	})
}

func (s *pgNaive) rebuildAll(context.Context, iter.Seq[event], int, int) error {
	return fmt.Errorf("pg-naive: rebuild of every key: %w", errors.ErrUnsupported)
}

// syncs returns 0: the server's syncs are not the harness's to count.
func (s *pgNaive) syncs() uint64 { return 0 }

func (s *pgNaive) note(time.Duration) string {
	return fmt.Sprintf("pool of %d, jsonb state, lock map %d keys", pgMaxConns, s.locks.size())
}

func (s *pgNaive) close() error {
	s.pool.Close()
	return nil
}

// pgStoreSystem is a projection.Runtime over pgstore, with a bus as an
// application would have one (so it also listens to other stores'
// commits), on a pool of the same size as pgNaive's.
type pgStoreSystem struct {
	pool  *pgxpool.Pool
	store *pgstore.Store
	bus   *pubsub.Bus
	rt    *projection.Runtime[event, account, int64]
}

func openPGStore(url, table string, o openOptions) (system, error) {
	pool, err := newPGPool(url)
	if err != nil {
		return nil, err
	}
	st, err := pgstore.OpenPool(context.Background(), pool, pgstore.WithTable(table))
	if err != nil {
		pool.Close()
		return nil, err
	}
	var opts []projection.Option
	if o.cacheSize > 0 {
		opts = append(opts, projection.WithCacheSize(o.cacheSize))
	}
	bus := pubsub.New()
	rt, err := projection.New(st, bus, accounts{newFolder(o.stateBytes)}, opts...)
	if err != nil {
		bus.Close()
		err = errors.Join(err, st.Close())
		pool.Close()
		return nil, err
	}
	return &pgStoreSystem{pool: pool, store: st, bus: bus, rt: rt}, nil
}

func (p *pgStoreSystem) apply(ctx context.Context, e event) error {
	_, err := p.rt.Apply(ctx, e)
	return err
}

func (p *pgStoreSystem) applyBatch(ctx context.Context, events []event) error {
	return p.rt.ApplyBatch(ctx, events)
}

func (p *pgStoreSystem) read(ctx context.Context, key string) (account, uint64, bool, error) {
	snap, ok, err := p.rt.Read(ctx, key)
	return snap.State, snap.Version, ok, err
}

func (p *pgStoreSystem) rebuild(ctx context.Context, key string, events iter.Seq[event]) error {
	_, err := p.rt.Rebuild(ctx, key, events)
	return err
}

func (p *pgStoreSystem) rebuildAll(ctx context.Context, events iter.Seq[event], memory, batch int) error {
	return p.rt.RebuildAll(ctx, events, projection.WithRebuildMemory(memory), projection.WithRebuildBatch(batch))
}

// syncs returns 0: the server's syncs are not the harness's to count.
func (p *pgStoreSystem) syncs() uint64 { return 0 }

// note reports the runtime's cache hit rate and conflict retries: a store
// shared with no other writer should see none.
func (p *pgStoreSystem) note(time.Duration) string {
	rs := p.rt.Stats()
	note := fmt.Sprintf("msgpack state in bytea, retries %d", rs.Retries)
	if n := rs.CacheHits + rs.CacheMisses; n > 0 {
		note += fmt.Sprintf(", cache hits %.0f%%", 100*float64(rs.CacheHits)/float64(n))
	}
	return note
}

func (p *pgStoreSystem) close() error {
	p.rt.Close()
	p.bus.Close()
	err := p.store.Close()
	p.pool.Close()
	return err
}
