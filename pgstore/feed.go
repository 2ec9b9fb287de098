package pgstore

import (
	"context"
	"sync"

	"github.com/livefold/livefold/store"
)

// maxUnread is how many changes a Changes call may leave unread before they
// are replaced by one Reset.
const maxUnread = 4096

// feed shares one listening connection among a Store's Changes calls, each
// a follower: the listener goroutine runs while there is at least one.
type feed struct {
	// mu guards every field below and the followers' queues.
	mu        sync.Mutex
	followers map[*follower]struct{}
	// cancel ends the running listener; nil when none runs. A listener
	// delivers only while its context is live, and checks it under mu, so
	// that one being replaced never delivers to the next one's followers.
	cancel context.CancelFunc
	// failing is set from the moment a listener starts, or lost its
	// connection (or failed to make one), until it listens: a follower that
	// joins meanwhile cannot know what it misses before then.
	failing bool
	// closed is set by Close, after which no listener starts.
	closed bool

	// listeners counts the listener goroutines that have not returned;
	// Close waits for them.
	listeners sync.WaitGroup
}

// follower is one Changes call.
type follower struct {
	// wake is signalled (capacity 1) when queue grew.
	wake chan struct{}
	// queue holds the changes not yet taken; resetDue says a Reset is to
	// be queued when the listener listens again. Both guarded by feed.mu.
	queue    []store.Change
	resetDue bool
}

// join adds a follower, starting the listener if none runs, or returns nil
// once Close began.
func (s *Store) join() *follower {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if f.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		f.cancel = cancel
		f.failing = true
		f.listeners.Add(1)
		go s.listen(ctx)
	}
	if f.followers == nil {
		f.followers = make(map[*follower]struct{})
	}
	// A follower that joins before the listener listens, for the first time
	// or again, cannot know what it misses until then, so it gets a Reset
	// then. Without it, a runtime that read a key just before the first
	// LISTEN could keep a state another process replaced meanwhile.
	fl := &follower{wake: make(chan struct{}, 1), resetDue: f.failing}
	f.followers[fl] = struct{}{}
	return fl
}

// leave removes a follower, stopping the listener after the last one.
func (s *Store) leave(fl *follower) {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.followers, fl)
	if len(f.followers) == 0 && f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
}

// take returns the follower's queued changes, giving it buf's array for
// the next ones.
func (s *Store) take(fl *follower, buf []store.Change) []store.Change {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	q := fl.queue
	fl.queue = buf
	return q
}

// closeFeed stops the listener for good and waits until it returned.
func (s *Store) closeFeed() {
	f := &s.feed
	f.mu.Lock()
	f.closed = true
	if f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
	f.mu.Unlock()
	f.listeners.Wait()
}

// tell queues changes for every follower, unless ctx, the listener's,
// ended.
func (s *Store) tell(ctx context.Context, changes ...store.Change) {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	for fl := range f.followers {
		for _, c := range changes {
			fl.push(c)
		}
		fl.signal()
	}
}

// listening records that the listener listens (again): every follower that
// may have missed changes meanwhile is told with a Reset.
func (s *Store) listening(ctx context.Context) {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	f.failing = false
	for fl := range f.followers {
		if fl.resetDue {
			fl.resetDue = false
			fl.push(store.Change{Reset: true})
			fl.signal()
		}
	}
}

// lost records that the listener does not listen, so that every follower,
// present or joining before it listens again, receives a Reset then.
func (s *Store) lost(ctx context.Context) {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	f.failing = true
	for fl := range f.followers {
		fl.resetDue = true
	}
}

// push queues c; feed.mu is held. A follower with too much unread has
// it replaced by one Reset.
func (fl *follower) push(c store.Change) {
	if len(fl.queue) >= maxUnread {
		clear(fl.queue)
		fl.queue = append(fl.queue[:0], store.Change{Reset: true})
	}
	fl.queue = append(fl.queue, c)
}

// signal wakes the follower's Changes call if it sleeps.
func (fl *follower) signal() {
	select {
	case fl.wake <- struct{}{}:
	default:
	}
}
