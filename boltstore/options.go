package boltstore

import (
	"log/slog"
	"time"
)

// Defaults for the options.
const (
	DefaultOpenTimeout = time.Second
	DefaultMaxBatch    = 1000
	DefaultQueueSize   = 4096
)

// Option configures Open.
type Option func(*config)

type config struct {
	noSync          bool
	noFreelistSync  bool
	openTimeout     time.Duration
	maxBatch        int
	maxSize         int
	initialMmapSize int
	queueSize       int
	logger          *slog.Logger
	noWAL           bool
	walSize         int
	readOnly        bool
	salvage         bool
	// foldTx is the records of one transaction of a checkpoint (0: the
	// default); tests make it small.
	foldTx int
	// fs is every file operation of the Store; tests replace it.
	fs fileSystem
}

func defaultConfig() config {
	return config{
		openTimeout: DefaultOpenTimeout,
		maxBatch:    DefaultMaxBatch,
		queueSize:   DefaultQueueSize,
		walSize:     DefaultWALSize,
		logger:      slog.New(slog.DiscardHandler),
		fs:          osFS{},
	}
}

// WithNoSync skips fsync after each commit (bbolt NoSync). Commits get much
// faster, but a crash of the machine (power loss, kernel panic) may lose or
// corrupt recent commits; a crash of only the process loses nothing the
// kernel already has. Use it for tests and throw-away stores only.
func WithNoSync() Option { return func(c *config) { c.noSync = true } }

// WithNoFreelistSync stops bbolt from writing its freelist on every commit
// (bbolt NoFreelistSync). Commits write fewer pages, at the cost of a full
// scan of the file on every Open to rebuild the freelist; worth it for large,
// write-heavy files that are opened rarely.
func WithNoFreelistSync() Option { return func(c *config) { c.noFreelistSync = true } }

// WithOpenTimeout bounds how long Open waits for the file lock held by another
// process or Store before returning ErrLocked (default DefaultOpenTimeout).
// bbolt polls the lock every 50ms, so the wait ends within d. A non-positive d
// tries exactly once; Open never waits indefinitely.
func WithOpenTimeout(d time.Duration) Option { return func(c *config) { c.openTimeout = d } }

// WithMaxBatch caps the number of requests committed in one transaction
// (default DefaultMaxBatch; values below 1 mean 1). A larger cap amortises
// one fsync over more writers; a smaller cap bounds the latency of one
// commit and the memory of one batch. It never makes a caller wait for
// company: a batch is whatever is queued when the previous commit ends.
func WithMaxBatch(n int) Option { return func(c *config) { c.maxBatch = max(n, 1) } }

// WithMaxSize forbids the file to grow beyond n bytes (bbolt MaxSize; n <= 0
// means no limit). A commit that needs more space fails with store.ErrCommit and
// leaves nothing on disk; the store keeps working, and later commits succeed
// once they fit (for example after deletes freed pages). Useful as a disk
// quota and for simulating a full disk in tests.
//
// The limit is checked by each bbolt transaction, so WithMaxSize turns the
// write-ahead log off (see WithoutWAL): every commit is a transaction of the
// file.
func WithMaxSize(n int) Option { return func(c *config) { c.maxSize = n } }

// WithoutWAL commits every batch as a bbolt transaction of the file itself,
// as bbolt alone would: two fsyncs and a rewrite of every page the batch
// touches per commit, instead of one append and one fdatasync of the log.
// Commits are several times slower; in exchange the file is complete after
// every commit, with no log beside it.
func WithoutWAL() Option { return func(c *config) { c.noWAL = true } }

// WithWALSize sets the size of the write-ahead log at which a checkpoint
// folds it into the file (default DefaultWALSize; values below 64 KiB mean
// 64 KiB). A larger log makes checkpoints rarer and larger: fewer page
// rewrites overall, but more memory for the records it holds (up to twice
// the log's worth while a checkpoint runs beside the commits), and a longer
// replay at Open after a crash.
func WithWALSize(n int) Option { return func(c *config) { c.walSize = max(n, 64<<10) } }

// WithInitialMmapSize maps n bytes of the file up front (bbolt
// InitialMmapSize). While the file fits in the mapping, a commit never has to
// wait for open read transactions (Get, Scan, Verify) to finish before
// remapping, at the cost of reserving that much address space.
func WithInitialMmapSize(n int) Option { return func(c *config) { c.initialMmapSize = n } }

// WithLogger sets where faults are reported: failed commits and panicking done
// callbacks. The default discards. Routine operations are not logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithQueueSize sets the capacity of the submission queue (default
// DefaultQueueSize; values below 1 mean 1). Submit blocks while the queue is
// full, which is the store's back-pressure; a larger queue absorbs bursts at
// the cost of memory held by queued requests.
func WithQueueSize(n int) Option { return func(c *config) { c.queueSize = max(n, 1) } }

// WithReadOnly makes Open open an existing file for reading only, for tools
// that inspect a store: the file and its write-ahead log are never written,
// created, truncated or removed.
//
// bbolt takes a shared lock on the file, so Open fails with ErrLocked while a
// writing Store (in this or another process) holds it, and a writing Store
// cannot open the file while a read-only one has it open: close read-only
// stores promptly. A missing file is an error wrapping fs.ErrNotExist.
//
// The complete frames of a log left beside the file by a Store that stopped
// without Close are read into memory and never folded into the file: Get,
// Scan, Keys, Buckets and Verify see every commit that Store acknowledged,
// as it would have served them, and LogRecords says how many writes the log
// held. Submit, Commit and Checkpoint return an error wrapping ErrReadOnly
// (Submit never calls done). Options about writing (WithNoSync, WithoutWAL,
// WithMaxSize, ...) are ignored.
func WithReadOnly() Option { return func(c *config) { c.readOnly = true } }

// WithLogSalvage makes Open replay the intact frames of a damaged
// write-ahead log instead of refusing it. Without it, a log in which bytes
// that fail their checksum are followed by a valid frame of the same log
// makes Open fail with an error wrapping store.ErrCorrupt, because commits
// after the damage were acknowledged: the damage is not a tail torn by a
// crash. With it, Open replays every intact frame, in order, skips the
// damaged bytes and logs each damaged range (WithLogger): the commits in
// them are lost, and a key whose only later commits were lost keeps an older
// version (or, when a crash interrupted the checkpoint of that log, the
// version the checkpoint had written into the file). InspectLog says beforehand which frames and writes that is. Use
// it once, deliberately, on a copy of the log kept aside; a log of another
// file or history (ErrWrongLog) is refused all the same.
func WithLogSalvage() Option { return func(c *config) { c.salvage = true } }
