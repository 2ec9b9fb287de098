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
}

func defaultConfig() config {
	return config{
		openTimeout: DefaultOpenTimeout,
		maxBatch:    DefaultMaxBatch,
		queueSize:   DefaultQueueSize,
		logger:      slog.New(slog.DiscardHandler),
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
// means no limit). A commit that needs more space fails with ErrCommit and
// leaves nothing on disk; the store keeps working, and later commits succeed
// once they fit (for example after deletes freed pages). Useful as a disk
// quota and for simulating a full disk in tests.
func WithMaxSize(n int) Option { return func(c *config) { c.maxSize = n } }

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
