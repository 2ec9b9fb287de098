package projection

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Default sizes of the runtime's bounded structures.
const (
	// DefaultCacheSize is the number of decoded key states kept in memory
	// when WithCacheSize is not given.
	DefaultCacheSize = 10_000
	// DefaultHistory is the number of recent updates kept per cached key for
	// WithSince when WithHistory is not given.
	DefaultHistory = 16
	// DefaultSubscribeBuffer is a subscription's buffer when WithBuffer is
	// not given.
	DefaultSubscribeBuffer = 64
)

// Option configures a Runtime in New.
type Option func(*config) error

type config struct {
	cacheSize int
	history   int
	logger    *slog.Logger
	now       func() time.Time
	gaps      bool // accept events that skip stream positions
	noPos     bool // ignore Positioned events
	// rebuildSource is WithRebuildOnRevisionChange's source, a
	// func(context.Context) iter.Seq[E] of the runtime's event type.
	rebuildSource any
}

func defaultConfig() config {
	return config{
		cacheSize: DefaultCacheSize,
		history:   DefaultHistory,
		logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:       time.Now,
	}
}

// WithCacheSize bounds the number of decoded key states the runtime keeps so
// that Apply on a hot key skips loading and decoding, and Read of a hot key
// skips the store. The cache only ever holds committed states (and the
// pending states of applies in flight, which it never evicts), so it cannot
// disagree with the store. n must be at least 1; the cache is split into 64
// shards, so the bound is n rounded up to a multiple of 64. Default
// DefaultCacheSize.
func WithCacheSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: cache size %d < 1", ErrInvalidOption, n)
		}
		c.cacheSize = n
		return nil
	}
}

// WithHistory sets how many recent updates the runtime keeps per cached key,
// so that a subscriber resuming WithSince a recent version gets the missed
// updates replayed instead of one resync. 0 disables replay and saves the
// memory, which grows with cache size times history. Default DefaultHistory.
func WithHistory(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: history %d < 0", ErrInvalidOption, n)
		}
		c.history = n
		return nil
	}
}

// WithLogger sets the logger for faults the runtime handles on its own:
// failed commits, damaged snapshots and panicking projection code at Warn or
// Error level, and, at Debug level, each key resynced for a subscription that
// fell behind. Default: nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// WithClock sets the clock that stamps UpdatedAt. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		c.now = now
		return nil
	}
}

// WithGaps makes the runtime accept Positioned events that skip positions
// of their key's stream instead of refusing them with ErrGap: for sources
// that filter events, or deliver them with holes that are not losses.
func WithGaps() Option {
	return func(c *config) error {
		c.gaps = true
		return nil
	}
}

// WithoutPositions makes the runtime ignore the Positioned interface of its
// events: every event is folded. Use it for a projection whose keys are not
// the streams the positions count in.
func WithoutPositions() Option {
	return func(c *config) error {
		c.noPos = true
		return nil
	}
}

// SubscribeOption configures a subscription.
type SubscribeOption func(*subConfig) error

type subConfig struct {
	initial  bool
	since    Cursor
	hasSince bool
	buffer   int
}

// WithInitialState makes the first update of a key subscription a
// [KindResync] carrying the current snapshot (KindDeleted with version 0 if
// there is none); the updates after it are exactly those that follow its
// version, with no gap and no duplicate, even while applies run.
func WithInitialState() SubscribeOption {
	return func(c *subConfig) error {
		c.initial = true
		return nil
	}
}

// WithSince resumes a key subscription at c, the Cursor of the last update
// or snapshot the subscriber has. The missed deltas are replayed only when c
// is in the key's current lineage and the retained history (WithHistory)
// holds every version after it; in every other case (another lineage, older
// than the history, ahead of the current version, a key that no longer
// exists) the subscriber gets one [KindResync] with the full current state,
// or [KindDeleted] if the key is absent. Either way live updates follow, and
// no delta that does not follow the subscriber's state is ever sent.
// WithSince(Cursor{}) on a key that does not exist sends nothing first.
// WithSince overrides WithInitialState.
func WithSince(c Cursor) SubscribeOption {
	return func(sc *subConfig) error {
		sc.since, sc.hasSince = c, true
		return nil
	}
}

// WithBuffer sets how many updates may wait for a slow subscriber before it
// is considered behind and resynced. n must be at least 1. Default
// DefaultSubscribeBuffer.
func WithBuffer(n int) SubscribeOption {
	return func(c *subConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: buffer %d < 1", ErrInvalidOption, n)
		}
		c.buffer = n
		return nil
	}
}
