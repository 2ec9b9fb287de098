package boltstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// fileMode is the mode of a file Open creates: snapshots are private data.
const fileMode = 0o600

// Store is a bbolt file with group commit. All methods are safe for
// concurrent use. A Store must be closed with Close.
type Store struct {
	db   *bolt.DB
	path string
	cfg  config

	// queue carries accepted requests to the committer, which owns their
	// completion from the moment the send succeeded.
	queue chan request
	// closing is closed when Close begins, to release Submits waiting for
	// queue space.
	closing chan struct{}
	// stopped is closed when the committer goroutine returned.
	stopped chan struct{}
	// isClosed is set when Close begins; readers check it without locking.
	isClosed atomic.Bool

	// sendMu makes "check closed, then send" atomic with respect to Close,
	// which must never close queue while a Submit may still send on it:
	// Submit holds it for reading across both steps.
	sendMu sync.RWMutex
	closed bool

	closeOnce sync.Once
	closeErr  error

	// committerID is the committer's goroutine id, written before the
	// committer runs its first callback; inCallback is true while it runs
	// callbacks. Together they detect calls from inside done.
	committerID atomic.Uint64
	inCallback  atomic.Bool

	// waiters pools the result channels of Commit (chan error, capacity 1).
	waiters sync.Pool

	stats counters
}

// Open opens or creates the bbolt file at path (created with mode 0600) and
// starts the Store's committer goroutine, which Close stops.
//
// The file is locked for exclusive use. If another process or Store holds the
// lock for longer than the open timeout (WithOpenTimeout), Open returns an
// error wrapping ErrLocked instead of waiting indefinitely.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	timeout := cfg.openTimeout
	if timeout <= 0 {
		// bbolt treats 0 as "wait for ever"; any positive value below its
		// 50ms poll interval makes it try exactly once.
		timeout = time.Nanosecond
	}
	db, err := bolt.Open(path, fileMode, &bolt.Options{
		Timeout:         timeout,
		NoSync:          cfg.noSync,
		NoFreelistSync:  cfg.noFreelistSync,
		MaxSize:         cfg.maxSize,
		InitialMmapSize: cfg.initialMmapSize,
		FreelistType:    bolt.FreelistArrayType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (waited %s): %w", ErrLocked, path, cfg.openTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{
		db:      db,
		path:    path,
		cfg:     cfg,
		queue:   make(chan request, cfg.queueSize),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	s.waiters.New = func() any { return make(chan error, 1) }
	c := newCommitter(s)
	go c.run()
	return s, nil
}

// Path returns the path the Store was opened with.
func (s *Store) Path() string { return s.path }

// Close stops accepting requests, waits until every request accepted before it
// committed or failed and its done callback ran, stops the committer and
// closes the file. Submits waiting for queue space when Close begins return
// ErrClosed; every other method called after Close began returns ErrClosed.
//
// Close blocks until open read transactions end, so it must not be called
// from inside a Scan loop. Called from inside a done callback it returns
// ErrReentrant and does nothing. A second call returns nil; concurrent calls
// wait for the first to finish.
func (s *Store) Close() error {
	if s.onCommitter() {
		return ErrReentrant
	}
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.isClosed.Store(true)
		close(s.closing)
		s.sendMu.Lock()
		s.closed = true
		s.sendMu.Unlock()
		// No Submit can be between its closed check and its send any more.
		close(s.queue)
		<-s.stopped
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltstore: close %s: %w", s.path, err)
		}
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// Closed reports whether Close has begun; from then on every call returns
// ErrClosed. It lets layers that answer from their own caches, such as a
// projection runtime, honour a closed store too.
func (s *Store) Closed() bool { return s.isClosed.Load() }
