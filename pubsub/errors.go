package pubsub

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these, so
// callers test them with [errors.Is]; the wrapping message names the offending
// channel, pattern or option.
var (
	// ErrClosed is returned by Subscribe and Publish once the Bus is closed.
	ErrClosed = errors.New("pubsub: bus closed")
	// ErrInvalidChannel is returned by Publish and ValidChannel for a channel
	// name that is not a literal dot-separated name.
	ErrInvalidChannel = errors.New("pubsub: invalid channel")
	// ErrInvalidPattern is returned by Subscribe and ValidPattern for a
	// malformed pattern.
	ErrInvalidPattern = errors.New("pubsub: invalid pattern")
	// ErrInvalidOption is returned by Subscribe for an option value out of range
	// (buffer < 1, unknown policy, non-positive block timeout, an OnDrop callback
	// whose message type differs from the subscription's).
	ErrInvalidOption = errors.New("pubsub: invalid option")

	// ErrUnsubscribed is the Err of a subscription ended by its own Close.
	ErrUnsubscribed = errors.New("pubsub: unsubscribed")
	// ErrBusClosed is the Err of a subscription ended because its Bus closed.
	ErrBusClosed = errors.New("pubsub: subscription ended: bus closed")
	// ErrSlowConsumer is the Err of a subscription with the Disconnect policy
	// that was ended because a message did not fit in its buffer.
	ErrSlowConsumer = errors.New("pubsub: subscription ended: slow consumer")
)
