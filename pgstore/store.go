package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/livefold/livefold/store"
)

// Store keeps snapshots in a PostgreSQL table, with group commit. It
// implements store.Store. All methods are safe for concurrent use. A Store
// must be closed with Close.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool // Close closes pool: Open made it
	cfg     config
	sql     statements
	// id tells this Store's notices of its commits from other Stores'.
	id uint64
	// channel is where the Stores of the table announce their commits.
	channel string
	// feed serves the Changes calls.
	feed feed

	// queue carries accepted requests to the committer, which owns their
	// completion from the moment the send succeeded.
	queue chan *request
	// deliveries carries committed batches from the committer to the
	// deliverer, which calls their done callbacks; the committer closes it
	// when it stops.
	deliveries chan *batch
	// gets carries Gets to the getter goroutines; getting counts those
	// that have not returned.
	gets    chan *getReq
	getting sync.WaitGroup
	// closing is closed when Close begins, to release Submits waiting for
	// queue space.
	closing chan struct{}
	// stopped is closed when the deliverer returned: every accepted
	// request has reported.
	stopped chan struct{}
	// isClosed is set when Close begins; readers check it without locking.
	isClosed atomic.Bool

	// sendMu makes "check closed, then send" atomic with respect to Close,
	// which must never close queue while a Submit may still send on it:
	// Submit holds it for reading across both steps.
	sendMu sync.RWMutex
	closed bool

	closeOnce sync.Once
}

// Open connects to the database connString names (a URL or keyword/value
// string, as pgxpool.ParseConfig reads it), creates the store's table if it
// does not exist, and starts the Store's two goroutines, which Close stops,
// along with the connection pool. ctx bounds Open only.
//
// Errors: a connection string pgx cannot parse, a database that cannot be
// reached, ErrServer, ErrSchema, or a table that cannot be created.
func Open(ctx context.Context, connString string, opts ...Option) (*Store, error) {
	pc, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s, err := open(ctx, pool, true, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// OpenPool is Open on a pool the caller made and keeps: Close does not close
// it, and the caller must not close it before Close returned. The store uses
// the pool's connections one at a time for each commit and each read, and
// never holds one while a callback or a loop body runs, so it shares the
// pool safely with other users. While Changes runs, the store takes one
// connection out of the pool (pgxpool's Hijack) to listen on, and closes
// it itself.
func OpenPool(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	return open(ctx, pool, false, opts)
}

func open(ctx context.Context, pool *pgxpool.Pool, own bool, opts []Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.table == "" {
		return nil, fmt.Errorf("pgstore: empty table name")
	}
	st := newStatements(cfg.table)
	if err := prepareSchema(ctx, pool, st); err != nil {
		return nil, err
	}
	channel, err := channelName(ctx, pool, st)
	if err != nil {
		return nil, err
	}
	s := &Store{
		pool:       pool,
		ownPool:    own,
		cfg:        cfg,
		sql:        st,
		id:         rand.Uint64(),
		channel:    channel,
		queue:      make(chan *request, cfg.queueSize),
		deliveries: make(chan *batch, 1),
		closing:    make(chan struct{}),
		stopped:    make(chan struct{}),
		gets:       make(chan *getReq, cfg.queueSize),
	}
	go newCommitter(s).run()
	go s.deliver()
	s.getting.Add(getters)
	for range getters {
		go s.getter()
	}
	return s, nil
}

// Table returns the name of the store's table, as given to WithTable.
func (s *Store) Table() string { return s.cfg.table }

// Close stops accepting requests, ends every Changes call, waits until
// every request accepted before it committed or failed and its done
// callback ran, stops the store's goroutines, closes the connection
// Changes listens on, and, for a Store from Open, closes the connection
// pool, which waits for reads in progress. Submits waiting for queue space when Close
// begins return store.ErrClosed; every other method called after Close
// began returns store.ErrClosed.
//
// Close waits for the done callback running, if any: called from inside a
// done callback it never returns (see Submit). A second call returns nil;
// concurrent calls wait for the first to finish.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.isClosed.Store(true)
		close(s.closing)
		s.closeFeed()
		s.sendMu.Lock()
		s.closed = true
		s.sendMu.Unlock()
		// No Submit can be between its closed check and its send any
		// more.
		close(s.queue)
		close(s.gets)
		<-s.stopped
		s.getting.Wait()
		if s.ownPool {
			s.pool.Close()
		}
	})
	return nil
}

// Closed reports whether Close has begun; from then on every call returns
// store.ErrClosed.
func (s *Store) Closed() bool { return s.isClosed.Load() }

var _ store.Store = (*Store)(nil)
