package projection

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/lockmap"
	"github.com/livefold/livefold/pubsub"
)

// MaxNameLen is the longest projection name, in bytes: a store's limit less
// the room the buckets of later generations (see RebuildAll) add to it.
const MaxNameLen = store.MaxNameLen - genSuffixRoom

// MaxKeyLen is the longest key a Runtime accepts, in bytes: the limit every
// store accepts.
const MaxKeyLen = store.MaxKeyLen

// Runtime folds events of one Projection into snapshots kept in a Store and
// publishes the changes on a bus. Create it with New; all its methods are safe
// for concurrent use. A Runtime's goroutines are its publisher, which runs
// while updates wait to be delivered, and its background work (following
// other writers' commits when the store has a feed of them, removing a
// previous generation after RebuildAll); Close ends them. Subscriptions own
// theirs and the store owns its committer. Close a Runtime when done with it.
type Runtime[E, S, D any] struct {
	p             Projection[E, S, D]
	name          string
	store         store.Store
	bus           *pubsub.Bus // nil: no live updates
	cfg           config
	codec         *codec[S]
	locks         *lockmap.Map[string]
	gen           atomic.Pointer[generation[S, D]] // the generation reads and writes use
	channelPrefix string                           // "projection." + name + "."
	broadcastName string
	reqs          reqPool[S, D]
	positions     bool // E implements Positioned and WithoutPositions was not given
	gate          *gate
	subs          subscriptions
	stats         counters

	// id tells this runtime's envelopes from those of another runtime of the
	// same projection sharing the bus.
	id uint64
	// pub delivers committed updates to the bus; nil without a bus.
	pub *publisher[S, D]
	// metaMu guards meta, the projection's generation record as last read
	// or written; RebuildAll holds it while it changes generations.
	metaMu sync.Mutex
	meta   metaRecord
	// rebuildingAll is set while a RebuildAll runs.
	rebuildingAll atomic.Bool
	// revision is the projection code's revision (see Revisioned).
	revision string
	// bg runs the runtime's background work (removing generations); Close
	// cancels it and waits.
	bg background
	// capture collects what commits change while a RebuildAll runs.
	capture capture[E]
	// writers admits Apply, ApplyBatch and Rebuild; RebuildAll pauses it.
	writers writers
	// watched is set by the first subscription: from then on folds build
	// updates for subscribers and the history.
	watched atomic.Bool
}

// New returns a Runtime for p that persists into st and, if bus is not
// nil, publishes updates on it. The projection's Name is checked here:
// ErrInvalidName if it is empty, longer than MaxNameLen or not a valid
// channel name; a nil st or p (also a nil pointer in the interface, such as
// the store a failed Open returns) is ErrNilArgument. New reads which
// generation of the projection's snapshots is current (see RebuildAll) from
// st, and returns the store's error if it cannot. Several runtimes of
// different projections may share one store and one bus; runtimes of one
// projection on one store are several writers (see the package doc).
func New[E, S, D any](st store.Store, bus *pubsub.Bus, p Projection[E, S, D], opts ...Option) (*Runtime[E, S, D], error) {
	if isNil(st) || isNil(p) {
		return nil, fmt.Errorf("%w: store and projection are required", ErrNilArgument)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	name := p.Name()
	if err := store.CheckName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidName, err)
	}
	if len(name) > MaxNameLen {
		return nil, fmt.Errorf("%w %q: %d bytes, more than %d", ErrInvalidName, name, len(name), MaxNameLen)
	}
	if err := pubsub.ValidChannel("projection." + name + ".k"); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidName, name, err)
	}
	r := &Runtime[E, S, D]{
		p:             p,
		name:          name,
		store:         st,
		bus:           bus,
		cfg:           cfg,
		codec:         newCodec[S](),
		locks:         lockmap.New[string](),
		channelPrefix: "projection." + name + ".",
		broadcastName: defaultBroadcastName,
		gate:          newGate(),
		id:            rand.Uint64(),
		subs:          subscriptions{set: make(map[ender]struct{})},
	}
	if et := reflect.TypeFor[E](); !cfg.noPos {
		// An interface E may hold events that implement Positioned.
		r.positions = et.Kind() == reflect.Interface || et.Implements(reflect.TypeFor[Positioned]())
	}
	meta, err := r.readMeta(context.Background())
	if err != nil {
		return nil, err
	}
	r.meta = meta
	r.gen.Store(&generation[S, D]{n: meta.Current, bucket: genBucket(name, meta.Current), cache: newCache[S, D](cfg.cacheSize)})
	if rv, ok := p.(Revisioned); ok {
		r.revision = rv.Revision()
	}
	if bus != nil {
		r.pub = newPublisher(bus, &r.stats.published, r.publishFailed)
	}
	if bus != nil {
		r.bg.run(r.followChanges)
	}
	if bn, ok := p.(BroadcastNamer); ok && bn.BroadcastEventName() != "" {
		r.broadcastName = bn.BroadcastEventName()
	}
	if err := r.startRevisionRebuild(); err != nil {
		r.bg.close()
		return nil, err
	}
	// Last: the removal writes r.meta, which New reads until here without
	// metaMu.
	if len(meta.leftovers()) > 0 {
		r.bg.run(func(ctx context.Context) { r.removeLeftovers(ctx, meta.genMeta) })
	}
	return r, nil
}

// Name returns the projection's name.
func (r *Runtime[E, S, D]) Name() string { return r.name }

// Channel returns the live channel of key: "projection." + Name() + "." +
// ChannelToken(key), which is the key itself when it is made only of ASCII
// letters, digits, '-' and '_'. The runtime's own subscriptions (Subscribe,
// SubscribeAll, SSEHandler) are the only receivers of what it publishes
// there.
func (r *Runtime[E, S, D]) Channel(key string) string { return r.channelPrefix + ChannelToken(key) }

// BroadcastEventName returns the event name of delta frames: the
// projection's BroadcastEventName if it implements BroadcastNamer, else
// "delta".
func (r *Runtime[E, S, D]) BroadcastEventName() string { return r.broadcastName }

// Read returns key's last committed snapshot, or ok false if it has none. It
// takes no lock that Apply holds while folding and sees the state before or
// after any commit, never a torn one. The returned state belongs to the
// caller. Errors: ErrInvalidKey, ErrCorrupt, ErrClosed, ctx errors.
func (r *Runtime[E, S, D]) Read(ctx context.Context, key string) (snap Snapshot[S], ok bool, err error) {
	if err := r.enter(); err != nil {
		return snap, false, err
	}
	defer r.gate.exit()
	// Filled in place: a state is copied once, into the caller's result.
	ok, _, err = r.readCommitted(ctx, key, &snap)
	return snap, ok, err
}

// ReadRequired is Read with a missing snapshot reported as an error
// satisfying errors.Is(err, ErrNotFound).
func (r *Runtime[E, S, D]) ReadRequired(ctx context.Context, key string) (Snapshot[S], error) {
	snap, ok, err := r.Read(ctx, key)
	if err != nil {
		return snap, err
	}
	if !ok {
		return snap, fmt.Errorf("%w: projection %q, key %q", ErrNotFound, r.name, key)
	}
	return snap, nil
}

// readCommitted puts a copy of key's committed snapshot in *snap and returns
// whether there is one, with the update sequence number at the moment it was
// current: every update of key published before has a seq at most that,
// every later one a greater seq.
func (r *Runtime[E, S, D]) readCommitted(ctx context.Context, key string, snap *Snapshot[S]) (ok bool, seq uint64, err error) {
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	if err := ValidKey(key); err != nil {
		return false, 0, err
	}
	if r.store.Closed() {
		return false, 0, fmt.Errorf("%w: projection %q, key %q", ErrClosed, r.name, key)
	}
	g := r.current()
	sh := g.cache.shardOf(key)
	for {
		sh.mu.Lock()
		cached := sh.m[key]
		if cached != nil && !cached.stale {
			sh.hits++
			sh.touchLocked(cached)
			ok, err = r.snapshotOf(snap, key, &cached.committed)
			seq = r.seqNow()
			sh.mu.Unlock()
			return ok, seq, err
		}
		evictions := sh.evictions
		sh.misses++
		sh.mu.Unlock()

		loaded, err := r.load(ctx, g.bucket, key)
		if err != nil {
			return false, 0, err
		}

		sh.mu.Lock()
		e := sh.m[key]
		switch {
		case cached != nil && (e != cached || !e.stale):
			// Reloaded or replaced meanwhile: read it again.
			sh.mu.Unlock()
			continue
		case cached != nil:
			// Stale, and not reloaded yet: no commit of this runtime on the
			// key can succeed before the reload, so the store's record is
			// the newest and every update queued so far is older.
			ok, err = r.snapshotOf(snap, key, &loaded)
		case e == nil && sh.evictions != evictions:
			// The key may have been loaded, changed and evicted meanwhile,
			// so what we loaded may be older than what was published.
			sh.mu.Unlock()
			continue
		case e == nil:
			e = r.newEntry(g, key, loaded)
			sh.insertLocked(e)
			fallthrough
		default:
			ok, err = r.snapshotOf(snap, key, &e.committed)
		}
		seq = r.seqNow()
		sh.mu.Unlock()
		return ok, seq, err
	}
}

// seqNow returns the seq of the last update queued for subscribers. Read
// under a key's shard lock, it says which updates of the key the state read
// there includes.
func (r *Runtime[E, S, D]) seqNow() uint64 {
	if r.pub == nil {
		return 0
	}
	return r.pub.seq.Load()
}

// delivered returns the seq up to which every update has reached the bus.
func (r *Runtime[E, S, D]) delivered() uint64 {
	if r.pub == nil {
		return 0
	}
	return r.pub.published.Load()
}

// snapshotOf puts a caller-owned copy of c, key's committed record, in *dst
// and reports whether there is one; *dst is zero when there is not, or on
// error. The caller holds the key's shard lock when c belongs to a cache
// entry.
func (r *Runtime[E, S, D]) snapshotOf(dst *Snapshot[S], key string, c *record[S]) (bool, error) {
	if !c.present {
		*dst = Snapshot[S]{}
		return false, nil
	}
	if err := r.codec.cloneInto(&dst.State, &c.state, c.bytes); err != nil {
		*dst = Snapshot[S]{}
		return false, r.corrupt(key, err)
	}
	dst.Version, dst.Lineage, dst.UpdatedAt = c.version, c.lineage, c.updatedAt
	return true, nil
}

// load reads and decodes key's record from bucket.
func (r *Runtime[E, S, D]) load(ctx context.Context, bucket, key string) (record[S], error) {
	rec, ok, err := r.store.Get(ctx, bucket, key)
	if err != nil {
		return record[S]{}, r.storeErr(key, err)
	}
	if !ok {
		return record[S]{}, nil
	}
	s, err := r.codec.decode(rec.State)
	if err != nil {
		return record[S]{}, r.corrupt(key, err)
	}
	return record[S]{
		present:   true,
		state:     s,
		bytes:     rec.State,
		version:   rec.Version,
		stamp:     rec.Stamp,
		lineage:   rec.Lineage,
		position:  rec.Position,
		updatedAt: rec.UpdatedAt,
	}, nil
}

func (r *Runtime[E, S, D]) newEntry(g *generation[S, D], key string, rec record[S]) *entry[S, D] {
	return &entry[S, D]{key: key, bucket: g.bucket, channel: r.Channel(key), committed: rec, pending: rec}
}

// storeErr wraps an error from the store with the projection's sentinels;
// key may be empty when the error concerns several keys.
func (r *Runtime[E, S, D]) storeErr(key string, err error) error {
	where := fmt.Sprintf("projection %q, key %q", r.name, key)
	if key == "" {
		where = fmt.Sprintf("projection %q", r.name)
	}
	switch {
	case errors.Is(err, store.ErrClosed):
		return fmt.Errorf("%w: %s: %w", ErrClosed, where, err)
	case errors.Is(err, store.ErrCorrupt) && key != "":
		return r.corrupt(key, err)
	case errors.Is(err, store.ErrUnsupported):
		return fmt.Errorf("%w: %s: %w", ErrUnsupported, where, err)
	case errors.Is(err, store.ErrConflict):
		// Conflicts are folded again (see retry); one that reaches here
		// was the last attempt.
		return fmt.Errorf("%w: %s: after %d attempts: %w", ErrAborted, where, maxAttempts, err)
	default:
		return fmt.Errorf("%s: %w", where, err)
	}
}

// corrupt names the projection and key on err, a failure to read or copy a
// stored state, and marks it ErrCorrupt unless it already says what failed
// (damage, or a panicking Clone method).
func (r *Runtime[E, S, D]) corrupt(key string, err error) error {
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrApplyPanic) {
		return fmt.Errorf("projection %q, key %q: %w", r.name, key, err)
	}
	return fmt.Errorf("%w: projection %q, key %q: %w", ErrCorrupt, r.name, key, err)
}

// keyOf returns p.Key(event), validated, reporting a panic as a
// *PanicError.
func (r *Runtime[E, S, D]) keyOf(event E) (key string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Projection: r.name, Value: v}
		}
	}()
	key = r.p.Key(event)
	if err := ValidKey(key); err != nil {
		return "", fmt.Errorf("projection %q: %w", r.name, err)
	}
	return key, nil
}

// fold runs p.Apply(state, event), reporting a panic as a *PanicError.
func (r *Runtime[E, S, D]) fold(key string, state *S, event E) (delta D, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Projection: r.name, Key: key, Value: v}
		}
	}()
	return r.p.Apply(state, event), nil
}

// isNil reports whether v is nil or an interface holding a nil pointer, such
// as the *boltstore.Store a failed Open returns.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
