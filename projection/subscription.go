package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/livefold/livefold/pubsub"
)

// Subscription delivers the live updates of one key, or of every key of a
// projection, on the channel C. It owns one goroutine, which ends when the
// subscription does.
//
// A subscription never slows a writer: updates wait in a bounded buffer, and
// if it overflows because the subscriber stopped reading, the updates of the
// keys that lost one are replaced by a KindResync update with their full
// current state, delivered as soon as the subscriber reads again. For each
// key, updates arrive in version order and nothing older than a resync
// follows it.
type Subscription[S, D any] struct {
	out  chan Update[S, D]
	bus  *pubsub.Subscription[envelope[S, D]]
	stop chan struct{}
	once sync.Once
	done chan struct{} // closed when the goroutine has ended and out is closed

	// laggedMu guards lagged, the keys that lost an update to an overflow
	// since the goroutine last resynced them.
	laggedMu sync.Mutex
	lagged   map[string]struct{}
	lagWake  chan struct{} // capacity 1: wakes the goroutine to resync

	// rt is the runtime's side of the subscription: resyncs, and what it
	// learns of other runtimes' commits.
	rt runtimeSide[S, D]

	key    string         // the key subscribed to; "" for every key
	owner  *subscriptions // the runtime's set, left when the goroutine ends
	logger *slog.Logger   // the runtime's
	stats  *counters      // the runtime's, for drops and resyncs

	// reasonMu guards reason, why the subscription ended: the first one
	// given wins, and the goroutine fills in the bus's reason when it ends
	// if no other was given.
	reasonMu sync.Mutex
	reason   error
}

// C returns the channel of updates. It is closed when the subscription ends:
// after Close, when the subscription's context is done, or when the bus is
// closed; Err then says why.
func (s *Subscription[S, D]) C() <-chan Update[S, D] { return s.out }

// Done is closed once the subscription has ended and C is closed.
func (s *Subscription[S, D]) Done() <-chan struct{} { return s.done }

// Err returns nil while the subscription is live and why it ended
// afterwards: pubsub.ErrUnsubscribed after Close, ErrClosed after the
// runtime's Close, the context's error, pubsub.ErrBusClosed, or a resync
// failure.
func (s *Subscription[S, D]) Err() error {
	select {
	case <-s.done:
	default:
		return nil
	}
	s.reasonMu.Lock()
	defer s.reasonMu.Unlock()
	return s.reason
}

// endedBecause records err as why the subscription ended, unless a reason
// was recorded before.
func (s *Subscription[S, D]) endedBecause(err error) {
	s.reasonMu.Lock()
	if s.reason == nil {
		s.reason = err
	}
	s.reasonMu.Unlock()
}

// Close ends the subscription and waits until its goroutine has ended. It is
// idempotent and safe to call from any goroutine, including the one reading
// C.
func (s *Subscription[S, D]) Close() { s.end(nil) }

// end ends the subscription, with reason as its Err if not nil, and waits
// for its goroutine.
func (s *Subscription[S, D]) end(reason error) {
	s.once.Do(func() {
		if reason != nil {
			s.endedBecause(reason)
		}
		s.bus.Close()
		close(s.stop)
	})
	<-s.done
}

// subscribedKey returns the key subscribed to, "" for every key.
func (s *Subscription[S, D]) subscribedKey() string { return s.key }

// Dropped returns how many updates overflowed this subscription's buffer and
// were replaced by resyncs.
func (s *Subscription[S, D]) Dropped() uint64 { return s.bus.Dropped() }

// Subscribe returns a subscription to key's updates. With WithInitialState
// the first update is the current snapshot; with WithSince the updates after
// a version are replayed first. The subscription ends when ctx is done or
// Close is called. Errors: ErrNoBus, ErrInvalidKey, ErrInvalidOption, and
// errors reading the current snapshot.
func (r *Runtime[E, S, D]) Subscribe(ctx context.Context, key string, opts ...SubscribeOption) (*Subscription[S, D], error) {
	if err := ValidKey(key); err != nil {
		return nil, fmt.Errorf("projection %q: %w", r.name, err)
	}
	return r.subscribe(ctx, key, opts)
}

// SubscribeAll returns a subscription to the updates of every key of the
// projection. With WithInitialState it starts with a KindResync of every key
// that has a snapshot, in key order, and then each key's updates after its
// resync, with no gap and no duplicate; the store must be able to Scan
// (ErrUnsupported otherwise). WithSince needs a single key and is refused
// with ErrInvalidOption.
func (r *Runtime[E, S, D]) SubscribeAll(ctx context.Context, opts ...SubscribeOption) (*Subscription[S, D], error) {
	return r.subscribe(ctx, "", opts)
}

func (r *Runtime[E, S, D]) subscribe(ctx context.Context, key string, opts []SubscribeOption) (*Subscription[S, D], error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.gate.exit()
	if r.bus == nil {
		return nil, fmt.Errorf("%w: projection %q", ErrNoBus, r.name)
	}
	cfg := subConfig{buffer: DefaultSubscribeBuffer}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	pattern := r.channelPrefix + ">"
	if key != "" {
		pattern = r.Channel(key)
	} else if cfg.hasSince {
		return nil, fmt.Errorf("%w: WithSince needs a single key: versions count per key", ErrInvalidOption)
	}
	s := &Subscription[S, D]{
		out:     make(chan Update[S, D]),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		lagged:  make(map[string]struct{}),
		lagWake: make(chan struct{}, 1),
		key:     key,
		rt:      runtimeSide[S, D]{resync: r.resyncUpdate, forget: r.forget, delivered: r.delivered, keys: r.keys, origin: r.id},
		logger:  r.cfg.logger.With("projection", r.name),
		owner:   &r.subs,
		stats:   &r.stats, // before the bus subscription, whose drops count here
	}
	r.watched.Store(true) // before the state is read: later folds build updates
	bs, err := pubsub.Subscribe[envelope[S, D]](ctx, r.bus, pattern,
		pubsub.WithBuffer(cfg.buffer),
		pubsub.WithPolicy(pubsub.DropOldest),
		pubsub.OnDrop(func(_ string, env envelope[S, D]) { s.markLagged(env.u.Key) }))
	if err != nil {
		return nil, fmt.Errorf("projection %q: %w", r.name, err)
	}
	s.bus = bs

	// What to send first. The bus subscription exists already, so every
	// update after the state read here is in its buffer or marked lagged.
	var first []Update[S, D]
	var initial []string
	skip := map[string]uint64{}
	switch {
	case key == "" && cfg.initial:
		initial, err = r.keys(ctx)
	case cfg.hasSince || cfg.initial:
		first, skip[key], err = r.catchUp(ctx, key, cfg)
	}
	if err != nil {
		bs.Close()
		return nil, err
	}
	r.subs.add(s)
	go s.run(ctx, initial, first, skip)
	return s, nil
}

// keys returns every key that has a snapshot, in key order, for a
// subscription to all keys that starts with their states. It reads no state:
// the subscription reads each key's state when it sends it.
func (r *Runtime[E, S, D]) keys(ctx context.Context) ([]string, error) {
	var keys []string
	for k, err := range r.store.Keys(ctx, r.current().bucket) {
		if err != nil {
			return nil, r.storeErr("", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// catchUp returns the updates a new subscription to key starts with, and
// the seq after which live updates continue them.
func (r *Runtime[E, S, D]) catchUp(ctx context.Context, key string, cfg subConfig) ([]Update[S, D], uint64, error) {
	if cfg.hasSince {
		sh := r.current().cache.shardOf(key)
		sh.mu.Lock()
		if e := sh.m[key]; e != nil && !e.stale {
			if replay, ok := e.replayLocked(cfg.since); ok {
				seq := r.seqNow()
				sh.mu.Unlock()
				return replay, seq, nil
			}
		}
		sh.mu.Unlock()
	}
	u, seq, err := r.resyncUpdate(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	if cfg.hasSince && u.Kind == KindDeleted && cfg.since == (Cursor{}) {
		return nil, seq, nil // nothing was there and nothing is
	}
	return []Update[S, D]{u}, seq, nil
}

// resyncUpdate returns key's committed snapshot as a KindResync update, or
// KindDeleted with version 0 if there is none, and the seq it was current at.
func (r *Runtime[E, S, D]) resyncUpdate(ctx context.Context, key string) (Update[S, D], uint64, error) {
	var snap Snapshot[S]
	ok, seq, err := r.readCommitted(ctx, key, &snap)
	if err != nil {
		return Update[S, D]{}, 0, err
	}
	if !ok {
		return Update[S, D]{Key: key, Kind: KindDeleted}, seq, nil
	}
	return Update[S, D]{Key: key, Kind: KindResync, Version: snap.Version, Lineage: snap.Lineage, State: snap.State}, seq, nil
}

// markLagged is called by the bus, in the publisher's goroutine, for each
// update this subscription dropped. It must not block.
func (s *Subscription[S, D]) markLagged(key string) {
	s.stats.dropped.Add(1)
	s.laggedMu.Lock()
	s.lagged[key] = struct{}{}
	s.laggedMu.Unlock()
	select {
	case s.lagWake <- struct{}{}:
	default:
	}
}

func (s *Subscription[S, D]) takeLagged() []string {
	s.laggedMu.Lock()
	defer s.laggedMu.Unlock()
	if len(s.lagged) == 0 {
		return nil
	}
	keys := make([]string, 0, len(s.lagged))
	for k := range s.lagged {
		keys = append(keys, k)
	}
	clear(s.lagged)
	return keys
}

// runtimeSide is what a subscription needs of its runtime.
type runtimeSide[S, D any] struct {
	// resync reads a key's committed snapshot as a KindResync (or
	// KindDeleted) update with the seq it was current at.
	resync func(ctx context.Context, key string) (Update[S, D], uint64, error)
	// forget drops a key's cached state after another runtime committed to
	// it.
	forget func(key string)
	// delivered is the seq up to which every envelope reached the bus.
	delivered func() uint64
	// keys lists every key that has a snapshot.
	keys func(ctx context.Context) ([]string, error)
	// origin is the runtime's id, as carried by its envelopes.
	origin uint64
}

// run is the subscription's goroutine: it sends the first updates, then
// forwards live updates, replacing lost ones with resyncs. skip holds, per
// key, the seq of the last resync sent: updates at or below it are older
// than the state the subscriber has; skipMax is the largest of them.
func (s *Subscription[S, D]) run(ctx context.Context, initial []string, first []Update[S, D], skip map[string]uint64) {
	defer close(s.done)
	defer close(s.out)
	defer s.owner.remove(s)
	defer func() { s.endedBecause(s.bus.Err()) }()
	var skipMax uint64
	for _, v := range skip {
		skipMax = max(skipMax, v)
	}
	for _, key := range initial {
		if !s.resyncKey(ctx, key, skip, &skipMax, initialState) {
			return
		}
	}
	for _, u := range first {
		if !s.send(u) {
			return
		}
	}
	in := s.bus.C()
	self := s.rt.origin
	// switched holds, while a switch of generations is being walked, the
	// keys this subscription of every key resynced since the switch.
	var switched map[string]struct{}
	for {
		if !s.resyncLagged(ctx, skip, &skipMax) {
			return
		}
		select {
		case env, ok := <-in:
			if !ok {
				return
			}
			if len(s.lagWake) > 0 {
				// A key lost an update while this one waited: resync first,
				// so that no newer delta of it goes out before its resync.
				<-s.lagWake
				if !s.resyncLagged(ctx, skip, &skipMax) {
					return
				}
			}
			key := env.u.Key
			switch {
			case env.kind == envResyncAll:
				if env.origin == self && s.key == "" {
					keys, err := s.rt.keys(ctx)
					if err != nil {
						s.endedBecause(fmt.Errorf("projection: resync of every key: %w", err))
						s.bus.Close()
						return
					}
					for _, k := range keys {
						if !s.resyncKey(ctx, k, skip, &skipMax, initialState) {
							return
						}
					}
				}
				continue
			case env.kind == envSwitch || env.kind == envSwitchDone:
				if env.origin == self {
					switched = nil
					if env.kind == envSwitch {
						switched = make(map[string]struct{})
					}
				}
				continue
			case env.origin != self:
				// Another runtime committed to the key: its seq means
				// nothing here, and this runtime's cache is out of date.
				s.rt.forget(key)
				if !s.resyncKey(ctx, key, skip, &skipMax, KindResync) {
					return
				}
				continue
			case switched != nil:
				// After a switch of generations, the first envelope of each
				// key stands for its rebuild: whatever it carries, the
				// state read now includes it.
				if _, ok := switched[key]; !ok {
					switched[key] = struct{}{}
					if !s.resyncKey(ctx, key, skip, &skipMax, KindRebuild) {
						return
					}
					continue
				}
			}
			if env.kind == envRebuiltScan {
				continue // this subscription resynced the key already, or joined after the switch
			}
			if last, ok := skip[key]; ok {
				if env.seq <= last {
					continue // the state sent last already includes it
				}
				delete(skip, key) // later updates of the key are newer still
			}
			switch env.kind {
			case envStale:
				if !s.resyncKey(ctx, key, skip, &skipMax, KindResync) {
					return
				}
			case envRebuilt:
				if !s.resyncKey(ctx, key, skip, &skipMax, KindRebuild) {
					return
				}
			case envUpdate:
				if !s.send(env.u) {
					return
				}
			}
			if len(in) == 0 && s.rt.delivered() >= skipMax {
				// Every envelope up to the newest resync has reached the
				// bus, and so this buffer or the lagged set, and the
				// buffer is empty: none is left to skip.
				clear(skip)
			}
		case <-s.lagWake:
		case <-s.stop:
			return
		}
	}
}

// resyncLagged resyncs every key that lost an update. It returns false when
// the subscription ended.
func (s *Subscription[S, D]) resyncLagged(ctx context.Context, skip map[string]uint64, skipMax *uint64) bool {
	for _, key := range s.takeLagged() {
		if !s.resyncKey(ctx, key, skip, skipMax, KindResync) {
			return false
		}
		s.stats.resyncs.Add(1)
		s.logger.Debug("projection: subscriber fell behind; resynced the key", "key", key)
	}
	return true
}

// initialState is the kind resyncKey is asked for when it sends the
// initial state of every key: a KindResync, leaving damaged keys out.
const initialState Kind = 0

// resyncKey sends key's current state as a KindResync, or as a KindRebuild
// when as says so (KindDeleted when the key has none), and marks the updates
// older than it to be skipped. A damaged snapshot ends the subscription,
// except for the initial states of every key (as is initialState), where the
// key is logged and left out. It returns false when the subscription ended.
func (s *Subscription[S, D]) resyncKey(ctx context.Context, key string, skip map[string]uint64, skipMax *uint64, as Kind) bool {
	u, seq, err := s.rt.resync(ctx, key)
	if err == nil && as == KindRebuild && u.Kind == KindResync {
		u.Kind = KindRebuild
	}
	if err != nil && as == initialState && errors.Is(err, ErrCorrupt) {
		s.logger.Warn("projection: initial state skips a damaged snapshot", "key", key, "err", err)
		return true
	}
	if err != nil {
		if s.bus.Err() == nil {
			s.endedBecause(fmt.Errorf("projection: resync of key %q: %w", key, err))
		}
		s.bus.Close()
		return false
	}
	if !s.send(u) {
		return false
	}
	skip[key] = seq
	*skipMax = max(*skipMax, seq)
	return true
}

// send delivers u unless the subscription ends first.
func (s *Subscription[S, D]) send(u Update[S, D]) bool {
	select {
	case s.out <- u:
		return true
	case <-s.stop:
		return false
	case <-s.bus.Done():
		return false
	}
}
