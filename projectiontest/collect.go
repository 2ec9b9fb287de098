package projectiontest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/projection"
)

// DefaultTimeout bounds every wait of this package.
const DefaultTimeout = 10 * time.Second

// Collector records every update of a subscription, in order. Create it
// with Collect; it is safe for concurrent use.
type Collector[S, D any] struct {
	t   testing.TB
	sub *projection.Subscription[S, D]

	// mu guards updates and wake.
	mu      sync.Mutex
	updates []projection.Update[S, D]
	wake    chan struct{} // closed and replaced whenever updates grows or the subscription ends

	done chan struct{} // closed when the collecting goroutine ended
}

// Collect starts recording sub's updates. The subscription is closed, and
// the recording goroutine ended, when the test ends.
func Collect[S, D any](t testing.TB, sub *projection.Subscription[S, D]) *Collector[S, D] {
	t.Helper()
	c := &Collector[S, D]{t: t, sub: sub, wake: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	t.Cleanup(func() {
		sub.Close()
		<-c.done
	})
	return c
}

func (c *Collector[S, D]) run() {
	defer close(c.done)
	for u := range c.sub.C() {
		c.mu.Lock()
		c.updates = append(c.updates, u)
		close(c.wake)
		c.wake = make(chan struct{})
		c.mu.Unlock()
	}
	c.mu.Lock()
	close(c.wake)
	c.wake = nil
	c.mu.Unlock()
}

// Updates returns a copy of the updates received so far.
func (c *Collector[S, D]) Updates() []projection.Update[S, D] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]projection.Update[S, D](nil), c.updates...)
}

// WaitFor returns the first update, received so far or later, for which ok
// returns true. It fails the test if none arrives within DefaultTimeout or
// before the subscription ends.
func (c *Collector[S, D]) WaitFor(ok func(projection.Update[S, D]) bool) projection.Update[S, D] {
	c.t.Helper()
	timeout := time.NewTimer(DefaultTimeout)
	defer timeout.Stop()
	seen := 0
	for {
		c.mu.Lock()
		for ; seen < len(c.updates); seen++ {
			if u := c.updates[seen]; ok(u) {
				c.mu.Unlock()
				return u
			}
		}
		wake := c.wake
		c.mu.Unlock()
		if wake == nil {
			c.t.Fatalf("projectiontest: subscription ended (%v) before the awaited update", c.sub.Err())
			return projection.Update[S, D]{}
		}
		select {
		case <-wake:
		case <-timeout.C:
			c.t.Fatalf("projectiontest: no awaited update within %v; got %d updates", DefaultTimeout, seen)
			return projection.Update[S, D]{}
		}
	}
}

// WaitVersion returns the first update of key at version v or later.
func (c *Collector[S, D]) WaitVersion(key string, v uint64) projection.Update[S, D] {
	c.t.Helper()
	return c.WaitFor(func(u projection.Update[S, D]) bool { return u.Key == key && u.Version >= v })
}

// Runtime is the part of a *projection.Runtime that WaitVersion needs.
type Runtime[S, D any] interface {
	Subscribe(ctx context.Context, key string, opts ...projection.SubscribeOption) (*projection.Subscription[S, D], error)
	ReadRequired(ctx context.Context, key string) (projection.Snapshot[S], error)
}

// WaitVersion waits until key's committed snapshot in rt reaches version v
// or later, and returns that snapshot. It watches a subscription instead of
// polling, and fails the test after DefaultTimeout.
func WaitVersion[S, D any](t testing.TB, rt Runtime[S, D], key string, v uint64) projection.Snapshot[S] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	sub, err := rt.Subscribe(ctx, key, projection.WithInitialState())
	if err != nil {
		t.Fatalf("projectiontest: subscribe to %q: %v", key, err)
	}
	defer sub.Close()
	for u := range sub.C() {
		if u.Version >= v && u.Kind != projection.KindDeleted {
			snap, err := rt.ReadRequired(ctx, key)
			if err != nil {
				t.Fatalf("projectiontest: read %q: %v", key, err)
			}
			return snap
		}
	}
	t.Fatalf("projectiontest: %q did not reach version %d: %v", key, v, sub.Err())
	return projection.Snapshot[S]{}
}
