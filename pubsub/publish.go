package pubsub

import (
	"context"
	"fmt"
)

// Publish delivers msg to every live subscription of type exactly T whose
// pattern matches channel, and returns into how many buffers it entered.
//
// Publish never waits for a subscriber except one using the [Block] policy
// whose buffer is full; then it waits at most that subscription's block
// timeout, and less if ctx ends or the subscription or bus closes. ctx is
// consulted only for such waits: if it ends during one, the message is dropped
// for that subscription and Publish returns ctx.Err() with the count of
// buffers entered. Messages that do not fit are handled by each
// subscription's [Policy].
//
// Messages published on one channel by one goroutine reach each subscription
// in publish order. msg is copied into each buffer as a value: if T holds
// pointers, subscribers share what they point to and must treat it as
// read-only.
//
// Publish returns an error wrapping [ErrInvalidChannel] if channel is not a
// literal name (see [ValidChannel]), and [ErrClosed] if b is closed. It does
// not allocate while delivering to buffers with room.
func Publish[T any](ctx context.Context, b *Bus, channel string, msg T) (delivered int, err error) {
	if reason := checkName(channel, false); reason != "" {
		return 0, fmt.Errorf("%w %q: %s", ErrInvalidChannel, channel, reason)
	}
	// Matching collects references to the index's copy-on-write lists into a
	// stack buffer. The read lock is held over the sends that cannot wait
	// (see Bus.mu), so a delivery to a buffer with room is a plain channel
	// send; a full buffer's policy, which may wait or run OnDrop, runs
	// without it.
	var buf [8][]subscriber
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return 0, ErrClosed
	}
	lists := b.idx.root.match(channel, buf[:0])
	for _, list := range lists {
		for _, x := range list {
			s, ok := x.(*Subscription[T])
			if !ok || s.closed {
				continue // another message type, or ended
			}
			select {
			case s.ch <- msg:
				delivered++
				continue
			default:
			}
			b.mu.RUnlock()
			entered, werr := s.deliver(ctx, channel, msg)
			b.mu.RLock()
			if entered {
				delivered++
			}
			if werr != nil && err == nil {
				err = werr
			}
		}
	}
	b.mu.RUnlock()
	return delivered, err
}

// deliver puts msg in s's buffer or applies s's policy, for a publisher that
// found the buffer full and holds no bus lock. It reports whether msg entered
// the buffer, and ctx.Err() if ctx ended during a Block wait.
func (s *Subscription[T]) deliver(ctx context.Context, channel string, msg T) (bool, error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return false, nil
	}
	select {
	case s.ch <- msg:
		s.mu.RUnlock()
		return true, nil
	default:
	}

	switch s.policy {
	case DropOldest:
		var old T
		var haveOld, entered bool
		select {
		case old = <-s.ch:
			haveOld = true
		default: // the subscriber just took one: there is room now
		}
		s.mu.RUnlock()
		if haveOld {
			// Reported before msg can be received: a subscriber that
			// learns of drops through OnDrop knows of this one by the time
			// it reads anything newer.
			s.drop(channel, old)
		}
		s.mu.RLock()
		if !s.closed {
			select {
			case s.ch <- msg:
				entered = true
			default: // a concurrent publisher took the room
			}
		}
		closed := s.closed
		s.mu.RUnlock()
		if !entered && !closed {
			s.drop(channel, msg)
		}
		return entered, nil

	case Block:
		t := s.bus.timer(s.blockTimeout)
		var err error
		entered, counted := false, true
		select {
		case s.ch <- msg:
			entered = true
		case <-s.done:
			counted = false // the subscription ended; nothing was dropped from it
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
		}
		s.mu.RUnlock()
		s.bus.putTimer(t)
		if !entered && counted {
			s.drop(channel, msg)
		}
		return entered, err

	case Disconnect:
		s.mu.RUnlock()
		s.drop(channel, msg)
		s.end(ErrSlowConsumer)
		return false, nil

	default: // DropNewest
		s.mu.RUnlock()
		s.drop(channel, msg)
		return false, nil
	}
}

// drop counts msg as dropped and reports it to OnDrop. It runs with no lock held.
func (s *Subscription[T]) drop(channel string, msg T) {
	s.dropped.Add(1)
	if s.onDrop != nil {
		s.onDrop(channel, msg)
	}
}
