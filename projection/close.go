package projection

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// closedBit marks a gate as closed; the bits below count calls inside.
const closedBit = int64(1) << 62

// gate lets calls in until Close, and lets Close wait for the calls inside.
type gate struct {
	state   atomic.Int64 // closedBit | number of calls inside
	drained chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{drained: make(chan struct{})} }

// enter admits a call, or returns false once the gate is closed. A call
// admitted must call exit.
func (g *gate) enter() bool {
	if g.state.Add(1)&closedBit != 0 {
		g.exit()
		return false
	}
	return true
}

func (g *gate) exit() {
	if g.state.Add(-1) == closedBit {
		g.once.Do(func() { close(g.drained) })
	}
}

// close stops admitting calls and waits for those inside to exit.
func (g *gate) close() {
	if g.state.Or(closedBit) == 0 {
		g.once.Do(func() { close(g.drained) })
	}
	<-g.drained
}

// ender is a subscription as its runtime sees it.
type ender interface {
	end(reason error)
	subscribedKey() string
}

// subscriptions is the set of a runtime's live subscriptions, so that Close
// can end them.
type subscriptions struct {
	mu  sync.Mutex // guards set
	set map[ender]struct{}
}

func (s *subscriptions) add(sub ender) {
	s.mu.Lock()
	s.set[sub] = struct{}{}
	s.mu.Unlock()
}

func (s *subscriptions) remove(sub ender) {
	s.mu.Lock()
	delete(s.set, sub)
	s.mu.Unlock()
}

// Close stops the runtime: calls started before it finish (applies wait for
// their commits), calls after it return ErrClosed, and every subscription
// ends with ErrClosed. Close neither closes the store nor the bus, which the
// caller owns and may share; close the store after every runtime using it.
// Close is idempotent and must not be called from inside a call of the same
// runtime (such as from a Rebuild's event sequence), which it would wait for.
func (r *Runtime[E, S, D]) Close() {
	r.bg.close() // first: a background RebuildAll is a call inside the gate
	r.gate.close()
	if r.pub != nil {
		r.pub.wait() // every commit that returned has its updates delivered
	}
	r.subs.mu.Lock()
	subs := make([]ender, 0, len(r.subs.set))
	for s := range r.subs.set {
		subs = append(subs, s)
	}
	r.subs.mu.Unlock()
	for _, s := range subs {
		s.end(fmt.Errorf("%w: projection %q: runtime closed", ErrClosed, r.name))
	}
}

// enterWriter admits a call that writes: into the runtime (see gate), and
// past a RebuildAll switching generations (see writers).
func (r *Runtime[E, S, D]) enterWriter(ctx context.Context) error {
	if err := r.enter(); err != nil {
		return err
	}
	if err := r.writers.enter(ctx); err != nil {
		r.gate.exit()
		return fmt.Errorf("projection %q: %w", r.name, err)
	}
	return nil
}

func (r *Runtime[E, S, D]) exitWriter() {
	r.writers.exit()
	r.gate.exit()
}

// enter admits a call into the runtime; see gate.
func (r *Runtime[E, S, D]) enter() error {
	if !r.gate.enter() {
		return fmt.Errorf("%w: projection %q: runtime closed", ErrClosed, r.name)
	}
	return nil
}
