package projection

import (
	"hash/maphash"
	"sync"
	"time"
)

// cacheShards spreads keys over independently locked shards so that commits
// and reads of different keys rarely meet on one mutex.
const cacheShards = 64

// cache is the bounded set of keys whose decoded states the runtime keeps.
// An entry holds a key's committed snapshot, which Read returns and
// subscriptions resync from, and its pending lineage, which the next fold
// builds on. Entries with applies in flight are pinned and never evicted, so
// a commit always finds its entry; the others are evicted least recently
// used first once a shard is over its share of the bound.
type cache[S, D any] struct {
	seed   maphash.Seed
	shards [cacheShards]shard[S, D]
}

type shard[S, D any] struct {
	// mu guards m, the LRU list, the counters, and every field of every entry in
	// m. Publishing a key's updates also happens under it, which is what lets
	// a subscription resync from the committed state without a gap.
	mu        sync.Mutex
	m         map[string]*entry[S, D]
	lru       entry[S, D] // sentinel of a circular list, most recent first
	evictions uint64      // bumped by every eviction and by news of other runtimes' commits; see readCommitted
	news      uint64      // bumped by news of other runtimes' commits only; see pin
	hits      uint64      // lookups served from m
	misses    uint64      // lookups that had to load from the store
	capacity  int
}

// entry is one key's cached states. All fields are guarded by its shard's mu.
type entry[S, D any] struct {
	key     string
	bucket  string // the bucket of the entry's generation
	channel string // the key's live channel, computed once
	sh      *shard[S, D]

	// The committed snapshot: what is durable in the store.
	committed record[S]

	// The pending lineage: the state after the last fold submitted, which may
	// not be durable yet. It equals committed when nothing is in flight.
	pending record[S]
	// gen counts resets of the pending lineage after failed commits; a commit
	// built on an older generation must not reset it again.
	gen uint64

	// inflight counts commits submitted whose outcome is not known yet. It is
	// -1 for a moment when an outcome arrives before submit counted it; the
	// entry is pinned then.
	inflight int
	// stale says a commit found a record this runtime did not write:
	// committed is out of date, and the next fold reloads it from the store.
	stale bool
	// foreign says another runtime sharing the bus committed to the key
	// while the entry was in use; once idle it is evicted, so that the
	// next read loads the store's record.
	foreign bool
	pins    int // applies between loading the entry and submitting

	history    []Update[S, D] // ring of the most recent updates, oldest at histStart
	histStart  int
	prev, next *entry[S, D]
}

// lineage is what a fold needs of its key's entry, read in one go: the
// pending state to build on and its generation, and the committed position
// and version that duplicates are judged against.
type lineage[S any] struct {
	base                       record[S]
	gen                        uint64
	committedPos, committedVer uint64
	committedStamp             uint64
}

// lineageLocked returns e's lineage.
func (e *entry[S, D]) lineageLocked() lineage[S] {
	return lineage[S]{base: e.pending, gen: e.gen, committedPos: e.committed.position,
		committedVer: e.committed.version, committedStamp: e.committed.stamp}
}

// record is a decoded snapshot with the encoding it came from; bytes is nil
// when the snapshot does not exist.
type record[S any] struct {
	present   bool
	state     S
	bytes     []byte
	version   uint64
	stamp     uint64
	lineage   uint64
	position  uint64
	updatedAt time.Time
}

func newCache[S, D any](capacity int) *cache[S, D] {
	c := &cache[S, D]{seed: maphash.MakeSeed()}
	per := max(1, (capacity+cacheShards-1)/cacheShards)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.m = make(map[string]*entry[S, D])
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
		sh.capacity = per
	}
	return c
}

// invalidateLoads makes every read that is loading a key into c load it
// again (see readCommitted) rather than cache what it read, which may be
// older than commits the runtime has just learnt it missed.
func (c *cache[S, D]) invalidateLoads() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.evictions++
		sh.news++
		sh.mu.Unlock()
	}
}

func (c *cache[S, D]) shardOf(key string) *shard[S, D] {
	return &c.shards[maphash.String(c.seed, key)%cacheShards]
}

// touchLocked marks e as most recently used.
func (sh *shard[S, D]) touchLocked(e *entry[S, D]) {
	if sh.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	sh.pushFrontLocked(e)
}

func (sh *shard[S, D]) pushFrontLocked(e *entry[S, D]) {
	e.prev, e.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = e
	sh.lru.next = e
}

// insertLocked adds e and evicts idle entries, least recently used first,
// while the shard is over capacity.
func (sh *shard[S, D]) insertLocked(e *entry[S, D]) {
	e.sh = sh
	sh.m[e.key] = e
	sh.pushFrontLocked(e)
	for v := sh.lru.prev; len(sh.m) > sh.capacity && v != &sh.lru; {
		prev := v.prev
		if v != e {
			sh.evictIfIdleLocked(v)
		}
		v = prev
	}
}

// evictIfIdleLocked removes e unless an apply has it pinned or a commit of
// it is in flight, which need it to stay.
func (sh *shard[S, D]) evictIfIdleLocked(e *entry[S, D]) {
	if e.pins != 0 || e.inflight != 0 || sh.m[e.key] != e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(sh.m, e.key)
	sh.evictions++
}

// addHistoryLocked appends u to e's ring of recent updates. The ring grows
// with use up to size, so keys updated once cost one slot, not size.
func (e *entry[S, D]) addHistoryLocked(u Update[S, D], size int) {
	switch {
	case size == 0:
	case len(e.history) < size:
		e.history = append(e.history, u)
	default:
		e.history[e.histStart] = u
		e.histStart = (e.histStart + 1) % size
	}
}

// clearHistoryLocked forgets e's recent updates, when a version was committed
// without its update being kept.
func (e *entry[S, D]) clearHistoryLocked() {
	clear(e.history)
	e.history, e.histStart = e.history[:0], 0
}

// replayLocked returns the updates that follow since, oldest first, if since
// is in e's current lineage and the history still holds every update after
// it. Lineages are never reused, so every update kept with since's lineage
// follows from the state since stands for.
func (e *entry[S, D]) replayLocked(since Cursor) ([]Update[S, D], bool) {
	c := &e.committed
	if !c.present || since.Lineage != c.lineage || since.Version > c.version {
		return nil, false
	}
	if since.Version == c.version {
		return nil, true
	}
	n := len(e.history)
	at := func(i int) Update[S, D] { return e.history[(e.histStart+i)%n] }
	for i := n - 1; i >= 0; i-- {
		if u := at(i); u.Lineage == since.Lineage && u.Version == since.Version+1 {
			out := make([]Update[S, D], 0, n-i)
			for j := i; j < n; j++ {
				out = append(out, at(j))
			}
			return out, true
		}
	}
	return nil, false
}
