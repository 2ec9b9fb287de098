package pubsub

import (
	"fmt"
	"time"
)

const (
	// DefaultBuffer is the buffer size of a subscription when neither
	// [WithBuffer] nor [WithDefaultBuffer] says otherwise.
	DefaultBuffer = 64
	// MaxBuffer is the largest buffer a subscription may ask for. A channel's
	// buffer is allocated up front, so a typo must not allocate gigabytes.
	MaxBuffer = 1 << 20
	// DefaultBlockTimeout is how long a publisher waits for room in a [Block]
	// subscription unless [WithBlockTimeout] says otherwise.
	DefaultBlockTimeout = 100 * time.Millisecond
)

// Option configures a [Bus] in [New].
type Option func(*busConfig)

type busConfig struct {
	sub subConfig // defaults for every subscription of the bus
}

// WithDefaultBuffer sets the buffer size of subscriptions that do not use
// [WithBuffer]. New panics if n is outside [1, MaxBuffer]: a bus
// configuration is fixed by the program, so a bad one is a programming error.
func WithDefaultBuffer(n int) Option {
	return func(c *busConfig) { c.sub.buffer = n }
}

// WithDefaultPolicy sets the policy of subscriptions that do not use
// [WithPolicy]. New panics on an unknown policy.
func WithDefaultPolicy(p Policy) Option {
	return func(c *busConfig) { c.sub.policy = p }
}

// WithDefaultBlockTimeout sets the block timeout of [Block] subscriptions that
// do not use [WithBlockTimeout]. New panics if d <= 0.
func WithDefaultBlockTimeout(d time.Duration) Option {
	return func(c *busConfig) { c.sub.blockTimeout = d }
}

// SubscribeOption configures one subscription in [Subscribe].
type SubscribeOption func(*subConfig)

type subConfig struct {
	buffer       int
	policy       Policy
	blockTimeout time.Duration
	onDrop       any // func(channel string, msg T) for the subscription's T, or nil
}

func defaultSubConfig() subConfig {
	return subConfig{buffer: DefaultBuffer, policy: DropOldest, blockTimeout: DefaultBlockTimeout}
}

// check returns an error wrapping ErrInvalidOption for the first bad value.
func (c *subConfig) check() error {
	switch {
	case c.buffer < 1 || c.buffer > MaxBuffer:
		return fmt.Errorf("%w: buffer %d outside [1, %d]", ErrInvalidOption, c.buffer, MaxBuffer)
	case !c.policy.valid():
		return fmt.Errorf("%w: unknown policy %v", ErrInvalidOption, c.policy)
	case c.blockTimeout <= 0:
		return fmt.Errorf("%w: block timeout %v is not positive", ErrInvalidOption, c.blockTimeout)
	}
	return nil
}

// WithBuffer sets how many messages the subscription buffers before its
// policy applies. The default is [DefaultBuffer]; n outside [1, MaxBuffer]
// makes Subscribe fail with [ErrInvalidOption].
func WithBuffer(n int) SubscribeOption {
	return func(c *subConfig) { c.buffer = n }
}

// WithPolicy sets what happens when the subscription's buffer is full. The
// default is [DropOldest]; an unknown policy makes Subscribe fail with
// [ErrInvalidOption].
func WithPolicy(p Policy) SubscribeOption {
	return func(c *subConfig) { c.policy = p }
}

// WithBlockTimeout sets how long a publisher waits for room under the [Block]
// policy. The default is [DefaultBlockTimeout]; d <= 0 makes Subscribe fail
// with [ErrInvalidOption]. Other policies ignore it.
func WithBlockTimeout(d time.Duration) SubscribeOption {
	return func(c *subConfig) { c.blockTimeout = d }
}

// OnDrop registers fn to be called for each message the subscription drops,
// whatever the policy and whatever the reason (full buffer, block timeout,
// publisher's context ended). T must be the subscription's type parameter, or
// Subscribe fails with [ErrInvalidOption]; a nil fn is ignored.
//
// fn runs synchronously in the publishing goroutine, after the subscription's
// internal lock is released and outside the bus's index lock, so it delays
// that publisher and should be fast. It may call any function of this package,
// including Close on the subscription or the bus and Publish; a Publish from
// fn to a channel that drops again recurses, which is the caller's to bound.
// Calls for one subscription are serialised only if its publishers are.
// With DropOldest, fn has returned for the message evicted before the
// message that evicted it can be received from C.
func OnDrop[T any](fn func(channel string, msg T)) SubscribeOption {
	return func(c *subConfig) {
		if fn == nil {
			c.onDrop = nil
			return
		}
		c.onDrop = fn
	}
}
