package pgstore

import (
	"log/slog"
	"time"
)

// Defaults for the options.
const (
	DefaultTable         = "livefold_snapshots"
	DefaultMaxBatch      = 1000
	DefaultQueueSize     = 4096
	DefaultCommitTimeout = time.Minute
)

// Option configures Open and OpenPool.
type Option func(*config)

type config struct {
	table         string
	jsonb         bool
	maxBatch      int
	queueSize     int
	commitTimeout time.Duration
	logger        *slog.Logger
}

func defaultConfig() config {
	return config{
		table:         DefaultTable,
		maxBatch:      DefaultMaxBatch,
		queueSize:     DefaultQueueSize,
		commitTimeout: DefaultCommitTimeout,
		logger:        slog.New(slog.DiscardHandler),
	}
}

// WithTable sets the name of the table that holds the snapshots (default
// DefaultTable). The name is one identifier, quoted as it is (so case and
// punctuation are kept) and found in the connection's search_path: to use
// another schema, set search_path in the connection string. Stores of one
// table share their data; stores of different tables are independent.
func WithTable(name string) Option { return func(c *config) { c.table = name } }

// WithJSONB makes the store fill the state_json column with a JSON view of
// every state it writes, so that read models can be queried with SQL (see
// the package documentation, JSONB). States themselves are stored and read
// exactly as without it. The view costs a conversion in Submit and the
// space of a second copy of each state.
func WithJSONB() Option { return func(c *config) { c.jsonb = true } }

// WithMaxBatch caps the number of requests committed in one transaction
// (default DefaultMaxBatch; values below 1 mean 1). A batch is whatever is
// queued when the previous commit ends: a lone caller never waits for
// company.
func WithMaxBatch(n int) Option { return func(c *config) { c.maxBatch = max(n, 1) } }

// WithQueueSize sets the capacity of the submission queue (default
// DefaultQueueSize; values below 1 mean 1). Submit blocks while the queue is
// full, which is the store's back-pressure.
func WithQueueSize(n int) Option { return func(c *config) { c.queueSize = max(n, 1) } }

// WithCommitTimeout bounds how long one batch may take to commit, retries
// included (default DefaultCommitTimeout; values below a millisecond mean a
// millisecond): a batch that has not committed by then fails with
// store.ErrCommit, and one whose COMMIT was sent gets the same time again to
// learn its outcome (see the package documentation, Faults). A database
// that stops answering then holds up the store's requests for at most
// about twice d.
func WithCommitTimeout(d time.Duration) Option {
	return func(c *config) { c.commitTimeout = max(d, time.Millisecond) }
}

// WithLogger sets where faults are reported: failed commits, commits whose
// outcome had to be looked up, panicking done callbacks. The default
// discards. Routine operations are not logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}
