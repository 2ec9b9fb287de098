package pubsub

import "strconv"

// Policy says what a publisher does when a subscription's buffer is full.
// Whatever the policy, every message a subscription loses is counted in
// [Subscription.Dropped] and passed to its [OnDrop] callback.
type Policy int

const (
	// DropOldest, the default, discards the oldest buffered message to make
	// room, so the buffer keeps the newest messages, still in publish order.
	// The publisher never waits.
	DropOldest Policy = iota
	// DropNewest discards the message that does not fit; the buffer keeps the
	// oldest messages. The publisher never waits.
	DropNewest
	// Block makes the publisher wait for room, for at most the subscription's
	// block timeout (see [WithBlockTimeout]), and less if the publisher's
	// context ends or the subscription or bus closes. A message that still does
	// not fit is dropped.
	Block
	// Disconnect ends the subscription with [ErrSlowConsumer] when a message
	// does not fit; that message is dropped, messages already buffered stay
	// receivable. The publisher never waits.
	Disconnect
)

// String returns the policy's Go name, or "Policy(n)" for an unknown value.
func (p Policy) String() string {
	switch p {
	case DropOldest:
		return "DropOldest"
	case DropNewest:
		return "DropNewest"
	case Block:
		return "Block"
	case Disconnect:
		return "Disconnect"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

func (p Policy) valid() bool { return p >= DropOldest && p <= Disconnect }
