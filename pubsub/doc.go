// Package pubsub is a typed in-process publish/subscribe bus with bounded,
// per-subscription buffers and NATS-style channel patterns.
//
// # Basics
//
// A [Bus] routes messages by channel name. Channels are dot-separated tokens
// ("projection.orders.42"); a subscription's pattern may use "*" for exactly
// one token and a final ">" for one or more trailing tokens
// ("projection.orders.*", "projection.>"). See [ValidChannel] and
// [ValidPattern] for the exact grammar and [MaxNameLen] for the length limit.
//
//	b := pubsub.New()
//	defer b.Close()
//	sub, err := pubsub.Subscribe[Update](ctx, b, "projection.orders.*")
//	...
//	n, err := pubsub.Publish(ctx, b, "projection.orders.42", Update{...})
//	for u := range sub.C() { ... }  // ends when sub ends; sub.Err() says why
//
// Delivery is by exact type: [Publish] with message type T reaches only
// subscriptions created with [Subscribe] of the same T. [HasSubscribers] is a
// cheap, type-blind interest check so publishers can skip building messages.
//
// # Back-pressure
//
// Every subscription has its own bounded buffer (default [DefaultBuffer]) and
// a [Policy] for when it is full: [DropOldest] (default), [DropNewest],
// [Block] (the publisher waits at most a timeout, then drops) or
// [Disconnect] (the subscription ends with [ErrSlowConsumer]). A slow
// subscriber therefore never stalls publishers or other subscriptions, except
// for the bounded wait it asks for with Block. Every dropped message is
// counted ([Subscription.Dropped]) and can be observed with [OnDrop].
//
// # Ordering
//
// Messages published on one channel by one goroutine reach each subscription
// in publish order; under DropOldest the messages that remain are still in
// order. Nothing is promised between different publishing goroutines, or
// between channels.
//
// # Concurrency
//
// All functions and methods are safe for concurrent use. The bus starts no
// goroutines; cancellation of a subscription's context is observed with
// [context.AfterFunc]. Matching walks a token trie under a read lock, so
// publishing costs the same however many subscriptions exist on other
// channels. Sends to buffers with room are made under that read lock and cost
// a channel send each; a full buffer's policy runs without it, so no wait for
// a subscriber and no user code ([OnDrop]) ever runs under a bus lock. It is safe to publish, subscribe, or close the
// subscription or the bus from inside a receive loop or an OnDrop callback.
// A subscriber that publishes to a channel it is itself subscribed to with
// Block waits up to its own timeout when its buffer is full, since it is the
// one that would drain it.
//
// # Ownership
//
// A message is copied by value into each buffer. If T contains pointers,
// slices or maps, every subscriber receives the same referenced data: the
// publisher must not modify it after Publish, and subscribers must treat it
// as read-only.
//
// # Ending
//
// A subscription ends exactly once, for the first of: [Subscription.Close]
// ([ErrUnsubscribed]), its context ending (the context's error), [Bus.Close]
// ([ErrBusClosed]), or falling behind under Disconnect ([ErrSlowConsumer]).
// Ending closes [Subscription.Done] first, which releases any publisher
// blocked on it, then closes [Subscription.C] (messages already buffered are
// still received before the close), then removes the subscription from the
// bus. No publisher sends on C after it is closed. Closing never waits for a
// subscriber and waits for publishers only during their non-blocking sends.
// After [Bus.Close], Subscribe and Publish return [ErrClosed].
package pubsub
