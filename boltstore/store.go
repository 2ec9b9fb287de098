package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livefold/livefold/store"

	bolt "go.etcd.io/bbolt"
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
	// stopped is closed when the committer goroutine returned, after the
	// syncer and the completer it runs.
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

	// wal is the write-ahead log, nil without one (WithoutWAL, WithMaxSize);
	// the committer owns it while it runs, and lends it to the syncer for
	// each frame. overlay holds the records the log
	// has and the file does not yet.
	wal     *wal
	overlay *overlay
	// finalCheckpoint is the committer's last checkpoint, written before
	// stopped is closed.
	finalCheckpoint error
	// file commits the write transactions of the file; the committer owns
	// it, and lends it to the checkpointer for each checkpoint.
	file *fileWriter
	// logRecords is the number of writes in the log Open found; readOnly is
	// set by WithReadOnly, and then there is no committer (queue and
	// stopped are nil). Both are written before Open returns.
	logRecords int
	readOnly   bool

	// waiters pools the result channels of Commit (chan error, capacity 1).
	waiters sync.Pool

	stats counters
}

// Open opens or creates the bbolt file at path (created with mode 0600) and
// starts the Store's goroutines, which Close stops. With
// WithReadOnly it opens an existing file for reading only and starts no
// goroutine.
//
// The file is locked for exclusive use (shared with other read-only stores
// under WithReadOnly). If another process or Store holds the lock for longer
// than the open timeout (WithOpenTimeout), Open returns an error wrapping
// ErrLocked instead of waiting indefinitely.
//
// A new file is created so that a crash during Open leaves no file or one
// that opens. A leftover write-ahead log is replayed first (see the package
// documentation): a log of another file or history is refused with an error
// wrapping ErrWrongLog, a damaged log or file with one wrapping
// store.ErrCorrupt, and in both cases neither file is changed.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.readOnly {
		return openReadOnly(path, cfg)
	}
	if err := createFile(cfg.fs, path, cfg); err != nil {
		return nil, err
	}
	db, err := openBolt(cfg.fs, path, &bolt.Options{
		Timeout:         lockTimeout(cfg.openTimeout),
		NoSync:          cfg.noSync,
		NoFreelistSync:  cfg.noFreelistSync,
		MaxSize:         cfg.maxSize,
		InitialMmapSize: cfg.initialMmapSize,
		FreelistType:    bolt.FreelistArrayType,
	}, cfg.openTimeout)
	if err != nil {
		return nil, err
	}
	s := newStore(db, path, cfg)
	s.queue = make(chan request, cfg.queueSize)
	s.stopped = make(chan struct{})
	s.file = &fileWriter{fs: cfg.fs, path: path, db: db, fault: s.fileFault, txRecords: cfg.foldTx}
	if !cfg.noSync {
		s.file.unsynced = errOpened
	}
	// A log left by a store that stopped without Close is replayed whatever
	// this store's mode: a store without a log would otherwise miss commits
	// that were acknowledged.
	if err := s.openLog(!cfg.noWAL && cfg.maxSize <= 0); err != nil {
		_ = db.Close()
		return nil, err
	}
	c := newCommitter(s)
	go c.run()
	return s, nil
}

// newStore returns a Store of the open db without a committer.
func newStore(db *bolt.DB, path string, cfg config) *Store {
	s := &Store{db: db, path: path, cfg: cfg, closing: make(chan struct{})}
	s.waiters.New = func() any { return make(chan error, 1) }
	return s
}

// lockTimeout turns WithOpenTimeout's d into bbolt's Timeout, which treats
// 0 as "wait for ever": any positive value below its 50ms poll interval makes
// it try exactly once.
func lockTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Nanosecond
	}
	return d
}

// Path returns the path the Store was opened with.
func (s *Store) Path() string { return s.path }

// LogRecords returns how many writes the complete frames of the write-ahead
// log held when Open found it beside the file: commits a Store acknowledged
// before it stopped without Close, which the file alone may lack. 0 means
// there was no log or nothing in it (a clean Close removes it). A key
// written by several commits counts once per write.
//
// A writable Store folded those writes into the file during Open; a
// read-only one (WithReadOnly) serves them from memory and leaves the file
// without them. The value never changes after Open.
func (s *Store) LogRecords() int { return s.logRecords }

// Close stops accepting requests, waits until every request accepted before
// it committed or failed and its done callback ran, stops the Store's
// goroutines and closes the file (a read-only Store only closes the file). Submits waiting
// for queue space when Close begins return store.ErrClosed; every other
// method called after Close began returns store.ErrClosed.
//
// Close waits for read transactions in progress to end, and for the done
// callback running, if any: called from inside a done callback it never
// returns (see Submit). A second call returns nil; concurrent calls wait for
// the first to finish.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.isClosed.Store(true)
		close(s.closing)
		s.sendMu.Lock()
		s.closed = true
		s.sendMu.Unlock()
		if !s.readOnly {
			// No Submit can be between its closed check and its send any
			// more.
			close(s.queue)
			<-s.stopped
			s.closeErr = s.closeLog()
		}
		if err := s.db.Close(); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("boltstore: close %s: %w", s.path, err)
		}
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// Closed reports whether Close has begun; from then on every call returns
// store.ErrClosed. It lets layers that answer from their own caches, such as a
// projection runtime, honour a closed store too.
func (s *Store) Closed() bool { return s.isClosed.Load() }

// openLog folds the commits the leftover log files hold (those of a process
// that stopped without Close) into the file, and opens the log for this
// store's commits; or, when the store is to run without a log (use false),
// removes them once folded in. A log of another file or history, or a
// damaged one, is refused and left as it is.
func (s *Store) openLog(use bool) error {
	fsys := s.cfg.fs
	fp, found, err := loadFoldPoint(s.db, s.path)
	if err != nil {
		return err
	}
	// The logs are judged before anything is written: a file without a fold
	// point has the zero one, to which no log belongs but an empty one.
	sc, err := scanLogs(fsys, s.path, fp, s.cfg.salvage, false)
	if err != nil {
		return err
	}
	if !found {
		// A file from before fold points, or from bbolt alone: it gets an
		// identity before any log is written for it.
		fp = newFoldPoint()
		if err := s.file.write(nil, &fp); err != nil {
			return fmt.Errorf("boltstore: %s: record the file's identity: %w", s.path, err)
		}
	}
	for _, f := range sc.files {
		if f.ignored != "" {
			s.cfg.logger.Warn("boltstore: ignored a log older than the file", "path", f.path, "why", f.ignored)
		}
		for _, d := range f.damaged {
			s.cfg.logger.Error("boltstore: salvaged a damaged log; the commits in the damaged bytes are lost",
				"path", f.path, "offset", d.Offset, "bytes", d.Size, "writes", len(d.Writes))
		}
	}
	if len(sc.writes) > 0 {
		o := newOverlay()
		o.replay(sc.writes)
		folded := sc.fp
		folded.fileID = fp.fileID
		folded = folded.oddNext()
		if err := s.file.write(o.m, &folded); err != nil {
			return fmt.Errorf("boltstore: replay the log of %s: %w", s.path, err)
		}
		fp = folded
		s.logRecords = len(sc.writes)
		s.cfg.logger.Info("boltstore: replayed the log of an unclean shutdown", "path", s.path, "writes", len(sc.writes))
	}
	if use {
		prealloc := 0
		if !s.cfg.noSync {
			prealloc = s.cfg.walSize
		}
		w, err := openWAL(fsys, s.path, s.cfg.noSync, prealloc, fp, s.logFault)
		if err != nil {
			return err
		}
		s.wal, s.overlay = w, newOverlay()
	} else if sc.found {
		// The file records that it folded the logs, so a log that comes
		// back after a power loss is never replayed.
		for _, path := range []string{logPath(s.path, 0), logPath(s.path, 1)} {
			if err := fsys.remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("boltstore: remove log %s: %w", path, err)
			}
		}
	}
	if s.cfg.noSync {
		return nil
	}
	// The entries of the file and the logs must be durable before anything
	// is acknowledged: synced at every Open, since an earlier Open that
	// created them may have failed to.
	if err := fsys.syncDir(filepath.Dir(s.path)); err != nil {
		if s.wal != nil {
			s.wal.close()
			s.wal = nil
		}
		return err
	}
	return nil
}

// fileFault counts and logs a failed commit or sync of the file.
func (s *Store) fileFault(op string, err error) {
	s.stats.failedSyncs.Add(1)
	s.cfg.logger.Error("boltstore: a commit or sync of the file failed; its meta pages are synced again before it is written",
		"path", s.path, "op", op, "err", err)
}

// logFault counts and logs a failed write or sync of the log.
func (s *Store) logFault(op string, err error) {
	s.stats.failedSyncs.Add(1)
	s.cfg.logger.Error("boltstore: log write or sync failed; nothing is acknowledged until it is repaired",
		"path", s.path, "op", op, "err", err)
}

// closeLog removes the log once the committer's final checkpoint folded it
// into the file; if that failed the log stays, and the next Open replays it.
func (s *Store) closeLog() error {
	if s.wal == nil {
		return nil
	}
	if s.finalCheckpoint != nil {
		s.wal.close()
		return fmt.Errorf("boltstore: close %s: the log keeps the commits the file lacks: %w", s.path, s.finalCheckpoint)
	}
	return s.wal.remove()
}

// Checkpoint folds the write-ahead log into the file now and waits until it
// did: afterwards the file alone holds every commit reported before the call,
// as after a clean Close, so tools that read it with bbolt alone see them.
// No read needs it: reads merge the log's records with the file's. It queues
// behind the requests already queued, and commits wait while it runs, unlike
// the checkpoints the log's size starts, which run beside them.
//
// Without a log (WithoutWAL, WithMaxSize) there is nothing to fold and it
// returns nil. Errors: store.ErrClosed, ErrReadOnly (a read-only Store never
// writes its file), store.ErrCommit wrapping a failure to write the file or
// to restart the log (the log keeps every commit), ctx's error while waiting
// for queue space. Once queued it waits for the outcome, like Commit, and
// like Commit it deadlocks the Store when called from inside a done
// callback.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.wal == nil && !s.readOnly {
		if s.isClosed.Load() {
			return store.ErrClosed
		}
		return nil
	}
	ch := s.waiters.Get().(chan error)
	if err := s.enqueue(ctx, request{checkpoint: true, wait: ch}); err != nil {
		s.waiters.Put(ch)
		return err
	}
	err := <-ch
	s.waiters.Put(ch)
	return err
}
