package projection

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Defaults of RebuildAll.
const (
	// DefaultRebuildMemory is how many key states RebuildAll keeps in
	// memory when WithRebuildMemory is not given.
	DefaultRebuildMemory = 65536
	// DefaultRebuildBatch is how many writes RebuildAll commits per request
	// when WithRebuildBatch is not given.
	DefaultRebuildBatch = 1024
)

// RebuildOption configures RebuildAll.
type RebuildOption func(*rebuildConfig) error

type rebuildConfig struct {
	memory, batch int
	progress      func(RebuildProgress)
	every         time.Duration
}

// WithRebuildMemory bounds how many key states RebuildAll keeps in memory
// (n >= 1; default DefaultRebuildMemory). A state that leaves is written to
// the new generation and read back when its key comes again: a larger n
// suits sources whose events of one key are far apart.
func WithRebuildMemory(n int) RebuildOption {
	return func(c *rebuildConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: rebuild memory %d < 1", ErrInvalidOption, n)
		}
		c.memory = n
		return nil
	}
}

// WithRebuildBatch sets how many writes RebuildAll commits per request
// (n >= 1; default DefaultRebuildBatch).
func WithRebuildBatch(n int) RebuildOption {
	return func(c *rebuildConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: rebuild batch %d < 1", ErrInvalidOption, n)
		}
		c.batch = n
		return nil
	}
}

// WithProgress calls report with RebuildAll's progress about every interval
// (default one second when interval <= 0) and once more at the switch. It
// is called on RebuildAll's goroutine: a slow report slows the rebuild.
func WithProgress(report func(RebuildProgress), interval time.Duration) RebuildOption {
	return func(c *rebuildConfig) error {
		if report == nil {
			return fmt.Errorf("%w: nil progress report", ErrInvalidOption)
		}
		c.progress = report
		if interval > 0 {
			c.every = interval
		}
		return nil
	}
}

// RebuildProgress is how far a RebuildAll got.
type RebuildProgress struct {
	Events       uint64        // events folded into the new generation
	Keys         uint64        // keys of the new generation seen so far
	Elapsed      time.Duration // since RebuildAll started
	EventsPerSec float64       // Events / Elapsed
	Switched     bool          // the new generation is current: the last report
}

// progress tracks one RebuildAll for its reports, its log lines and Stats.
type progress struct {
	start        time.Time
	last         time.Time
	every        time.Duration
	report       func(RebuildProgress)
	events, keys uint64
	// statEvents and statKeys receive the counts; log writes a line of
	// them every interval.
	statEvents, statKeys *atomic.Uint64
	log                  func(RebuildProgress)
}

func (p *progress) snapshot(switched bool) RebuildProgress {
	el := time.Since(p.start)
	rp := RebuildProgress{Events: p.events, Keys: p.keys, Elapsed: el, Switched: switched}
	if el > 0 {
		rp.EventsPerSec = float64(p.events) / el.Seconds()
	}
	return rp
}

// tick counts and, if an interval passed since the last report, reports.
func (p *progress) tick() {
	p.statEvents.Store(p.events)
	p.statKeys.Store(p.keys)
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		rp := p.snapshot(false)
		p.log(rp)
		if p.report != nil {
			p.report(rp)
		}
	}
}

func (p *progress) done(switched bool) {
	p.statEvents.Store(p.events)
	p.statKeys.Store(p.keys)
	if p.report != nil {
		p.report(p.snapshot(switched))
	}
}
