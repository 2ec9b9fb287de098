package projection

import (
	"sync"
	"sync/atomic"
)

// captured is what one commit changed in a key while a RebuildAll ran: the
// events it folded, in commit order, or, for a Rebuild of the key, the
// record that replaced its state.
type captured[E, S any] struct {
	key    string
	events []E
	reset  bool      // a Rebuild: rec replaces the key's state
	rec    record[S] // with reset: the rebuilt record (present false: deleted)
}

// capture collects, in commit order, what commits change while a
// RebuildAll runs, so that it can fold them into the new generation too.
// It holds them in memory until RebuildAll takes them.
type capture[E, S any] struct {
	active atomic.Bool // read on every commit: nothing is kept while false

	mu    sync.Mutex // guards items
	items []captured[E, S]
}

// start begins collecting.
func (c *capture[E, S]) start() {
	c.mu.Lock()
	c.items = nil
	c.active.Store(true)
	c.mu.Unlock()
}

// take returns what was collected since the last take and keeps collecting.
func (c *capture[E, S]) take() []captured[E, S] {
	c.mu.Lock()
	defer c.mu.Unlock()
	items := c.items
	c.items = nil
	return items
}

// stop ends collecting and returns what was not taken yet.
func (c *capture[E, S]) stop() []captured[E, S] {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active.Store(false)
	items := c.items
	c.items = nil
	return items
}

// add records the parts of a request that committed. It runs in commit
// order, on the store's goroutine, and copies what it keeps: the request is
// reused once its caller returns.
func (c *capture[E, S]) add(req []captured[E, S]) {
	c.mu.Lock()
	if c.active.Load() {
		c.items = append(c.items, req...)
	}
	c.mu.Unlock()
}
