package projection

import (
	"sync"
	"sync/atomic"
)

// captured is what one commit changed in a key while a RebuildAll ran: the
// events it folded, in commit order, or, for a Rebuild of the key, the
// record that replaced its state. RebuildAll holds one per key and commit
// until it folds them, so it is kept small: for an Apply, 48 bytes on 64-bit
// platforms and a copy of its event.
type captured[E any] struct {
	key    string
	events []E
	reset  *rebuilt // a Rebuild: what replaced the key's state; nil otherwise
}

// rebuilt is what a Rebuild of one key committed, as much of its record as
// the new generation needs.
type rebuilt struct {
	present           bool   // false: the Rebuild deleted the key
	bytes             []byte // the encoded state: the new generation decodes its own copy
	version, position uint64
}

// capture collects, in commit order, what commits change while a
// RebuildAll runs, so that it can fold them into the new generation too.
// It holds them in memory until RebuildAll takes them.
type capture[E any] struct {
	active atomic.Bool // read on every commit: nothing is kept while false

	mu    sync.Mutex // guards items
	items []captured[E]
}

// start begins collecting.
func (c *capture[E]) start() {
	c.mu.Lock()
	c.items = nil
	c.active.Store(true)
	c.mu.Unlock()
}

// take returns what was collected since the last take and keeps collecting.
func (c *capture[E]) take() []captured[E] {
	c.mu.Lock()
	defer c.mu.Unlock()
	items := c.items
	c.items = nil
	return items
}

// stop ends collecting and returns what was not taken yet.
func (c *capture[E]) stop() []captured[E] {
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
func (c *capture[E]) add(req []captured[E]) {
	c.mu.Lock()
	if c.active.Load() {
		c.items = append(c.items, req...)
	}
	c.mu.Unlock()
}
