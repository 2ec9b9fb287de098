package projection

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/livefold/livefold/store"
)

// RebuildAll replaces every key's snapshot with the fold of events, the
// projection's whole history as of the call, with no downtime: the new
// snapshots are built beside the current ones (a new generation, in the
// same store) while Read, Subscribe, Apply and the rest keep working on the
// current ones, and become current in one switch at the end.
//
// Every event applied while RebuildAll runs (through Apply, ApplyBatch or
// Rebuild of one key) is also folded into the new generation, after the
// events of the source, before the switch: afterwards each key's state is
// the fold of its events in events followed by its events applied during
// the rebuild. With [Positioned] events an event in both is folded once;
// without positions, an event applied after RebuildAll started must not also
// be in events, or it is folded twice. A key absent from the new generation
// no longer exists after the switch.
//
// At the switch, which holds back writes for the moment it takes to fold
// the last events applied and record the new generation, every key gets a
// new lineage, so every resume cursor from before resyncs. Subscribers of a
// key get one KindRebuild with its new state (KindDeleted if it is gone);
// subscribers of every key get one for each key, from a walk of both
// generations that follows the switch. The previous generation is then
// removed, in the background.
//
// Memory does not grow with the number of keys or events: the new
// generation's states pass through a bounded set (WithRebuildMemory) and are
// written in bounded requests (WithRebuildBatch). Events applied during the
// rebuild are held in memory until the switch: a copy of each, and 48 bytes
// (on 64-bit platforms) per key and commit.
//
// If ctx ends, an event's Key or Apply panics (ErrApplyPanic), an event has
// an invalid key (ErrInvalidKey) or a write fails, RebuildAll returns the
// error and the current generation is exactly as it was, including what was
// applied meanwhile; the partial new generation is removed (or, after a
// crash, by the next RebuildAll or New). Only one RebuildAll runs at a time
// per runtime (ErrRebuildRunning).
func (r *Runtime[E, S, D]) RebuildAll(ctx context.Context, events iter.Seq[E], opts ...RebuildOption) error {
	if err := r.enter(); err != nil {
		return err
	}
	defer r.gate.exit()
	cfg := rebuildConfig{memory: DefaultRebuildMemory, batch: DefaultRebuildBatch, every: time.Second}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return err
		}
	}
	if !r.rebuildingAll.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: projection %q", ErrRebuildRunning, r.name)
	}
	defer r.rebuildingAll.Store(false)
	err := r.rebuildAll(ctx, events, cfg)
	if err != nil {
		r.failed(err)
		r.cfg.logger.Warn("projection: RebuildAll failed; the current generation is unchanged", "projection", r.name, "err", err)
	}
	return err
}

func (r *Runtime[E, S, D]) rebuildAll(ctx context.Context, events iter.Seq[E], cfg rebuildConfig) (err error) {
	r.metaMu.Lock()
	defer r.metaMu.Unlock()
	meta := r.meta
	// A rebuild that crashed may have left its partial generation, and the
	// last one's previous generation may not be removed yet.
	for _, n := range meta.leftovers() {
		if err := r.dropBucket(ctx, genBucket(r.name, n)); err != nil {
			return err
		}
	}
	next := max(meta.Current, meta.Building, meta.Old) + 1
	if meta, err = r.writeMeta(ctx, meta, genMeta{Current: meta.Current, Revision: meta.Revision, Building: next}); err != nil {
		return err
	}
	r.meta = meta
	bucket := genBucket(r.name, next)
	prog := &progress{start: time.Now(), last: time.Now(), report: cfg.progress, every: cfg.every,
		statEvents: &r.stats.rebuildEvents, statKeys: &r.stats.rebuildKeys,
		log: func(p RebuildProgress) {
			r.cfg.logger.Info("projection: RebuildAll progress", "projection", r.name, "events", p.Events,
				"keys", p.Keys, "events_per_sec", int64(p.EventsPerSec), "elapsed", p.Elapsed)
		}}
	r.stats.rebuildRunning.Store(true)
	defer r.stats.rebuildRunning.Store(false)
	r.cfg.logger.Info("projection: RebuildAll started", "projection", r.name, "generation", next)

	r.capture.start()
	paused := false
	defer func() {
		if paused {
			r.writers.unpause()
		}
		if err == nil {
			return
		}
		r.capture.stop()
		// Leave nothing of the new generation behind, even when ctx ended.
		cleanup := context.WithoutCancel(ctx)
		if derr := r.dropBucket(cleanup, bucket); derr != nil {
			r.cfg.logger.Error("projection: cannot remove the partial generation; the next RebuildAll or New removes it",
				"projection", r.name, "generation", next, "err", derr)
			return
		}
		if m, merr := r.writeMeta(cleanup, r.meta, genMeta{Current: r.meta.Current, Revision: r.meta.Revision}); merr == nil {
			r.meta = m
		}
	}()

	sh := newShadow(r, bucket, cfg.memory, cfg.batch)
	// Runs before the removal of the partial generation deferred above.
	defer func() {
		if serr := sh.settle(); err == nil {
			err = serr
		}
	}()
	if err := r.foldSource(ctx, sh, events, prog); err != nil {
		return err
	}
	// Fold what was applied meanwhile, round after round, until a round is
	// small enough to fold with writes held back.
	for {
		items := r.capture.take()
		if err := r.foldCaptured(ctx, sh, items); err != nil {
			return err
		}
		if len(items) < cfg.batch {
			break
		}
	}
	if err := r.writers.pause(ctx); err != nil {
		return fmt.Errorf("projection %q: RebuildAll: %w", r.name, err)
	}
	paused = true
	if err := r.foldCaptured(ctx, sh, r.capture.stop()); err != nil {
		return err
	}
	if err := sh.flush(ctx); err != nil {
		return err
	}
	old := r.meta.Current
	m, err := r.writeMeta(ctx, r.meta, genMeta{Current: next, Revision: r.revision, Old: old, HasOld: true})
	if err != nil {
		return err
	}
	r.meta = m
	r.gen.Store(&generation[S, D]{n: next, bucket: bucket, cache: newCache[S, D](r.cfg.cacheSize)})
	r.announceSwitch()
	r.writers.unpause()
	paused = false

	prog.keys, prog.events = sh.keys, sh.events
	prog.done(true)
	r.stats.rebuildAlls.Add(1)
	r.cfg.logger.Info("projection: RebuildAll switched generations", "projection", r.name,
		"generation", next, "keys", sh.keys, "events", sh.events, "elapsed", time.Since(prog.start))
	r.bg.run(func(ctx context.Context) { r.afterSwitch(ctx, old) })
	return nil
}

// foldSource folds the source into sh, recovering a panic of Key or Apply
// once for the whole loop rather than per event.
func (r *Runtime[E, S, D]) foldSource(ctx context.Context, sh *shadow[E, S, D], events iter.Seq[E], prog *progress) (err error) {
	key := ""
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Projection: r.name, Key: key, Value: v}
		}
	}()
	for ev := range events {
		if sh.events%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("projection %q: RebuildAll: %w", r.name, err)
			}
			prog.keys, prog.events = sh.keys, sh.events
			prog.tick()
		}
		key = ""
		k := r.p.Key(ev)
		if err := ValidKey(k); err != nil {
			return fmt.Errorf("projection %q: RebuildAll: event %d: %w", r.name, sh.events+1, err)
		}
		key = k
		if err := sh.fold(ctx, k, ev); err != nil {
			return err
		}
	}
	return nil
}

// foldCaptured folds what commits changed during the rebuild into sh, in
// commit order.
func (r *Runtime[E, S, D]) foldCaptured(ctx context.Context, sh *shadow[E, S, D], items []captured[E]) (err error) {
	key := ""
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Projection: r.name, Key: key, Value: v}
		}
	}()
	for _, it := range items {
		key = it.key
		if it.reset != nil {
			if err := sh.reset(ctx, it.key, it.reset); err != nil {
				return err
			}
			continue
		}
		for _, ev := range it.events {
			if err := sh.fold(ctx, it.key, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropBucket deletes every record of bucket, in bounded requests.
func (r *Runtime[E, S, D]) dropBucket(ctx context.Context, bucket string) error {
	const batch = 1024
	writes := make([]store.Write, 0, batch)
	flush := func() error {
		if len(writes) == 0 {
			return nil
		}
		err := r.commit(ctx, writes)
		writes = writes[:0]
		return err
	}
	// Keys walks in chunks and holds nothing while the loop body commits.
	for k, err := range r.store.Keys(ctx, bucket) {
		if err != nil {
			return r.storeErr("", fmt.Errorf("removing generation %q: %w", bucket, err))
		}
		writes = append(writes, store.Write{Bucket: bucket, Key: k, Force: true, Delete: true})
		if len(writes) == batch {
			if err := flush(); err != nil {
				return r.storeErr("", fmt.Errorf("removing generation %q: %w", bucket, err))
			}
		}
	}
	if err := flush(); err != nil {
		return r.storeErr("", fmt.Errorf("removing generation %q: %w", bucket, err))
	}
	return nil
}

// announceSwitch tells subscribers, while writes are held back, that the
// generation changed: each key subscription resyncs its key as a rebuild,
// and subscriptions of every key enter switch mode until afterSwitch has
// walked every key.
func (r *Runtime[E, S, D]) announceSwitch() {
	if r.pub == nil {
		return
	}
	r.subs.mu.Lock()
	keys := make(map[string]struct{})
	for s := range r.subs.set {
		keys[s.subscribedKey()] = struct{}{}
	}
	r.subs.mu.Unlock()
	// Subscriptions of every key hear of the switch before any key's
	// rebuild, so that they count each key's first envelope as its rebuild.
	if _, ok := keys[""]; ok {
		r.pub.push(r.controlChannel(), envelope[S, D]{origin: r.id, kind: envSwitch})
		delete(keys, "")
	}
	for k := range keys {
		r.pub.push(r.Channel(k), envelope[S, D]{origin: r.id, kind: envRebuilt, u: Update[S, D]{Key: k}})
	}
}

// afterSwitch walks the keys of both generations in order, so that
// subscriptions of every key resync each one as a rebuild (or deletion),
// then removes the previous generation old.
func (r *Runtime[E, S, D]) afterSwitch(ctx context.Context, old uint64) {
	g := r.current()
	if r.pub != nil {
		next, stopNext := iter.Pull2(r.store.Keys(ctx, g.bucket))
		prev, stopPrev := iter.Pull2(r.store.Keys(ctx, genBucket(r.name, old)))
		defer stopNext()
		defer stopPrev()
		a, aerr, aok := next()
		b, berr, bok := prev()
		for (aok || bok) && aerr == nil && berr == nil {
			var k string
			switch {
			case !bok || (aok && a < b):
				k = a
				a, aerr, aok = next()
			case !aok || b < a:
				k = b
				b, berr, bok = prev()
			default:
				k = a
				a, aerr, aok = next()
				b, berr, bok = prev()
			}
			r.pub.push(r.Channel(k), envelope[S, D]{origin: r.id, kind: envRebuiltScan, u: Update[S, D]{Key: k}})
		}
		if err := errors.Join(aerr, berr); err != nil {
			r.cfg.logger.Warn("projection: cannot walk the generations after RebuildAll; subscribers of every key resync", "projection", r.name, "err", err)
		}
		r.pub.push(r.controlChannel(), envelope[S, D]{origin: r.id, kind: envSwitchDone})
	}
	if err := r.dropBucket(ctx, genBucket(r.name, old)); err != nil {
		r.cfg.logger.Warn("projection: the previous generation stays until the next RebuildAll", "projection", r.name, "err", err)
		return
	}
	r.metaMu.Lock()
	defer r.metaMu.Unlock()
	if r.meta.HasOld && r.meta.Old == old {
		if m, err := r.writeMeta(ctx, r.meta, genMeta{Current: r.meta.Current, Revision: r.meta.Revision, Building: r.meta.Building}); err == nil {
			r.meta = m
		}
	}
}

// removeLeftovers removes the generations a RebuildAll left behind when the
// process stopped: a partial new one, or a previous one not yet removed.
func (r *Runtime[E, S, D]) removeLeftovers(ctx context.Context, left genMeta) {
	r.metaMu.Lock()
	defer r.metaMu.Unlock()
	m := r.meta
	if m.Building != left.Building || m.Old != left.Old || m.HasOld != left.HasOld {
		return // a RebuildAll came first and took care of them
	}
	for _, n := range m.leftovers() {
		if err := r.dropBucket(ctx, genBucket(r.name, n)); err != nil {
			r.cfg.logger.Warn("projection: cannot remove a generation left by an earlier RebuildAll", "projection", r.name, "generation", n, "err", err)
			return
		}
	}
	if next, err := r.writeMeta(ctx, m, genMeta{Current: m.Current, Revision: m.Revision}); err == nil {
		r.meta = next
	}
}

// controlChannel is where a runtime tells its subscriptions of every key
// about generations: "~" alone is no key's channel token.
func (r *Runtime[E, S, D]) controlChannel() string { return r.channelPrefix + string(escapeMark) }
