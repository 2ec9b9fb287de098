package pubsub

import (
	"fmt"
	"sync"
	"time"
)

// Bus routes typed messages from publishers to subscriptions whose pattern
// matches the message's channel. Create one with [New]; the zero Bus is not
// usable. A Bus is safe for concurrent use and starts no goroutines.
type Bus struct {
	defaults subConfig // fixed by New; read without locking

	// timers recycles the *time.Timer of Block waits, so a publisher that keeps
	// hitting a full Block subscription does not allocate one per message.
	// Since Go 1.23 a stopped timer delivers no stale tick after Reset.
	timers sync.Pool

	// mu guards closed and idx. Publishers hold it shared while matching and
	// while making the sends that cannot wait, to buffers with room; a
	// subscription's channel is closed under it held exclusively, so those
	// sends need no lock of their own (see Subscription.mu). No user code and
	// no wait for a subscriber ever runs under it; the one lock taken under
	// it is a subscription's mu, by finish, once Done has released any
	// publisher waiting under that.
	mu     sync.RWMutex
	closed bool
	idx    index
}

// New returns an open Bus. It panics if an option's value is out of range
// (see [WithDefaultBuffer]), because bus configuration is fixed by the program.
func New(opts ...Option) *Bus {
	cfg := busConfig{sub: defaultSubConfig()}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.sub.check(); err != nil {
		panic(fmt.Sprintf("pubsub.New: %v", err))
	}
	return &Bus{defaults: cfg.sub}
}

// Close closes the bus: every live subscription ends with [ErrBusClosed]
// (its channel is closed; messages already buffered stay receivable), a
// publisher waiting in a [Block] send is released at once, and later
// Subscribe and Publish calls return [ErrClosed]. Close is idempotent, safe
// from any goroutine (including a receive loop or an [OnDrop] callback) and
// does not wait for publishers beyond their short non-blocking sends.
func (b *Bus) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	subs := b.idx.root.all(make([]subscriber, 0, b.idx.size))
	b.idx = index{}
	b.mu.Unlock()

	// Outside the lock: ending a subscription waits for its in-flight sends.
	for _, s := range subs {
		s.end(ErrBusClosed)
	}
}

// timer returns a running timer that fires after d; give it back with putTimer.
func (b *Bus) timer(d time.Duration) *time.Timer {
	if t, ok := b.timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func (b *Bus) putTimer(t *time.Timer) {
	t.Stop()
	b.timers.Put(t)
}

// HasSubscribers reports whether any live subscription, of any message type,
// has a pattern matching channel. It does not allocate, so a publisher can
// call it to skip building a message nobody will receive. The answer may be
// stale by the time it is used. It returns false for an invalid channel or a
// closed bus.
func HasSubscribers(b *Bus, channel string) bool {
	if checkName(channel, false) != "" {
		return false
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return !b.closed && b.idx.root.hasInterest(channel)
}

// add indexes s under pattern unless the bus is closed or s has already ended
// (its context was cancelled while it was being set up).
func (b *Bus) add(pattern string, s subscriber, ended func() bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if ended() {
		return nil
	}
	b.idx.insert(pattern, s)
	return nil
}

// remove closes the channel of s, which has ended, and unindexes s (a no-op
// if it is absent or the bus is closed).
func (b *Bus) remove(pattern string, s subscriber) {
	b.mu.Lock()
	s.closeLocked()
	if !b.closed {
		b.idx.remove(pattern, s)
	}
	b.mu.Unlock()
}
