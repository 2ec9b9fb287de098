package pubsub

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// Subscription receives the messages of type T published on channels that
// match its pattern. Create one with [Subscribe]. Its methods are safe for
// concurrent use. A Subscription must not be copied.
type Subscription[T any] struct {
	bus          *Bus
	pattern      string
	policy       Policy
	blockTimeout time.Duration
	onDrop       func(channel string, msg T) // nil if none
	ch           chan T
	done         chan struct{} // closed first when the subscription ends

	// stopCtx unregisters the context.AfterFunc that ends the subscription; nil
	// for a context that cannot end. Written before the subscription is shared.
	stopCtx func() bool

	endOnce sync.Once
	err     error // written once inside endOnce before done is closed; read only after done is closed

	dropped atomic.Uint64

	// mu and the bus's mu guard closed and the closing of ch: finish holds
	// both exclusively to close ch. A publisher holds one of them shared for
	// the whole of a send: the bus's for a send that cannot wait, mu for one
	// that may (a Block wait) or precedes an OnDrop callback. So ch is never
	// sent on after being closed, and concurrent publishers do not wait for
	// each other.
	mu     sync.RWMutex
	closed bool
}

// Subscribe registers a subscription to messages of type exactly T published
// on channels matching pattern (see [ValidPattern]). Messages of other types
// on the same channels are not delivered to it, even if assignable to T.
//
// The subscription ends when ctx is done (Err returns ctx.Err()), when Close
// is called, when b is closed, or, with the [Disconnect] policy, when it falls
// behind. No goroutine is started for it.
//
// Subscribe returns an error wrapping [ErrInvalidPattern] or
// [ErrInvalidOption] for bad arguments, [ErrClosed] if b is closed, and
// ctx.Err() if ctx is already done.
func Subscribe[T any](ctx context.Context, b *Bus, pattern string, opts ...SubscribeOption) (*Subscription[T], error) {
	if err := ValidPattern(pattern); err != nil {
		return nil, err
	}
	cfg := b.defaults
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	var onDrop func(string, T)
	if cfg.onDrop != nil {
		fn, ok := cfg.onDrop.(func(string, T))
		if !ok {
			return nil, fmt.Errorf("%w: OnDrop callback is %T, want func(string, %v)",
				ErrInvalidOption, cfg.onDrop, reflect.TypeFor[T]())
		}
		onDrop = fn
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	s := &Subscription[T]{
		bus:          b,
		pattern:      pattern,
		policy:       cfg.policy,
		blockTimeout: cfg.blockTimeout,
		onDrop:       onDrop,
		ch:           make(chan T, cfg.buffer),
		done:         make(chan struct{}),
	}
	if ctx.Done() != nil {
		// AfterFunc rather than a goroutine per subscription: nothing runs
		// until ctx ends, and stopCtx releases the registration.
		s.stopCtx = context.AfterFunc(ctx, func() { s.finish(ctx.Err(), true) })
	}
	if err := b.add(pattern, s, s.ended); err != nil {
		if s.stopCtx != nil {
			s.stopCtx()
		}
		return nil, err
	}
	if s.ended() {
		// ctx ended while we were registering; the AfterFunc cleaned up.
		return nil, s.Err()
	}
	return s, nil
}

// C returns the channel that receives the subscription's messages, in publish
// order per publishing goroutine and channel. It is closed once the
// subscription has ended; messages buffered before the end are still received
// first. After C is closed, Err is non-nil.
func (s *Subscription[T]) C() <-chan T { return s.ch }

// Done returns a channel closed as soon as the subscription ends, possibly
// before C is drained.
func (s *Subscription[T]) Done() <-chan struct{} { return s.done }

// Err returns nil while the subscription is live, then why it ended:
// [ErrUnsubscribed], [ErrBusClosed], [ErrSlowConsumer], or the error of the
// context given to Subscribe.
func (s *Subscription[T]) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close ends the subscription with [ErrUnsubscribed] unless it has already
// ended. When Close returns, C is closed (buffered messages remain receivable)
// and no publisher will enter the buffer again. Close is idempotent and safe
// from any goroutine, including the one ranging over C and an [OnDrop]
// callback; it releases a publisher blocked on this subscription rather than
// waiting for it.
func (s *Subscription[T]) Close() { s.finish(ErrUnsubscribed, false) }

// Dropped returns how many messages this subscription has dropped, under any
// policy.
func (s *Subscription[T]) Dropped() uint64 { return s.dropped.Load() }

// Pattern returns the pattern given to Subscribe.
func (s *Subscription[T]) Pattern() string { return s.pattern }

func (s *Subscription[T]) end(err error) { s.finish(err, false) }

func (s *Subscription[T]) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// finish ends the subscription with err once. Concurrent callers wait for the
// first to complete, so when any returns, ch is closed. fromCtx is set when
// called by the context's AfterFunc, which must not read stopCtx: Subscribe
// may still be writing it.
func (s *Subscription[T]) finish(err error, fromCtx bool) {
	s.endOnce.Do(func() {
		s.err = err
		// Closing done first releases any publisher blocked in a Block send,
		// which holds mu shared, so the Lock below does not wait for it.
		close(s.done)
		if !fromCtx && s.stopCtx != nil {
			s.stopCtx()
		}
		s.bus.remove(s.pattern, s)
	})
}

// closeLocked closes ch once no publisher is sending on it. The caller holds
// the bus's mu exclusively.
func (s *Subscription[T]) closeLocked() {
	s.mu.Lock()
	s.closed = true
	close(s.ch)
	s.mu.Unlock()
}
