package projection

import (
	"context"
	"sync"
	"sync/atomic"
)

// pausedBit marks a writers gate as paused; the bits below count writers
// inside.
const pausedBit = int64(1) << 61

// writers admits the calls that write (Apply, ApplyBatch, Rebuild), and lets
// RebuildAll stop new ones and wait for those inside while it switches
// generations. Entering and leaving cost an atomic add each while no pause
// is under way.
type writers struct {
	state atomic.Int64 // pausedBit | writers inside

	mu sync.Mutex // guards resume, drained and drainedClosed
	// resume is closed when a pause ends; drained when the last writer left
	// a paused gate. Both are nil while no pause is under way.
	resume, drained chan struct{}
	drainedClosed   bool
}

// enter admits a writer, waiting while the gate is paused, until ctx ends.
// A writer admitted must call exit.
func (w *writers) enter(ctx context.Context) error {
	for {
		if w.state.Add(1)&pausedBit == 0 {
			return nil
		}
		w.exit()
		w.mu.Lock()
		resume := w.resume
		w.mu.Unlock()
		if resume == nil {
			continue // the pause ended meanwhile
		}
		select {
		case <-resume:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *writers) exit() {
	if w.state.Add(-1) == pausedBit {
		w.mu.Lock()
		if w.drained != nil && !w.drainedClosed {
			w.drainedClosed = true
			close(w.drained)
		}
		w.mu.Unlock()
	}
}

// pause stops admitting writers and waits until every writer inside left,
// or ctx ends (then the pause is undone). A successful pause must be undone
// with unpause. Only one pause may be under way at a time.
func (w *writers) pause(ctx context.Context) error {
	w.mu.Lock()
	w.resume, w.drained, w.drainedClosed = make(chan struct{}), make(chan struct{}), false
	drained := w.drained
	if w.state.Or(pausedBit) == 0 {
		w.drainedClosed = true
		close(w.drained)
	}
	w.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		w.unpause()
		return ctx.Err()
	}
}

// unpause ends a pause and lets the writers waiting in.
func (w *writers) unpause() {
	w.mu.Lock()
	w.state.And(^pausedBit)
	close(w.resume)
	w.resume, w.drained = nil, nil
	w.mu.Unlock()
}
