package projection

import (
	"context"
	"errors"
	"time"

	"github.com/livefold/livefold/store"
)

// followChanges tells this runtime's subscribers about commits that other
// handles of the store make (other processes on a shared database), until
// ctx ends. A store that has none to follow says so at once, and then this
// ends. A feed that fails is followed again after a pause, and every
// subscribed key resyncs, since changes may have been missed meanwhile.
func (r *Runtime[E, S, D]) followChanges(ctx context.Context) {
	pause := 100 * time.Millisecond
	for {
		for c, err := range r.store.Changes(ctx) {
			switch {
			case errors.Is(err, store.ErrUnsupported):
				return
			case err != nil:
				if ctx.Err() == nil {
					r.cfg.logger.Warn("projection: lost the store's feed of other writers' commits; following again",
						"projection", r.name, "err", err)
				}
			case c.Reset:
				r.resyncEverything()
			case c.Bucket == r.current().bucket:
				r.remoteChange(c.Key)
			}
			pause = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
		r.resyncEverything()
	}
}

// remoteChange drops key's cached state, which another handle's commit made
// stale, and has its subscribers resync from the store.
func (r *Runtime[E, S, D]) remoteChange(key string) {
	r.forget(key)
	if r.listened(r.Channel(key)) {
		r.pub.push(r.Channel(key), envelope[S, D]{origin: r.id, kind: envStale, u: Update[S, D]{Key: key}})
	}
}

// resyncEverything drops every cached state and has every subscription
// resync what it follows from the store.
func (r *Runtime[E, S, D]) resyncEverything() {
	g := r.current()
	r.gen.Store(&generation[S, D]{n: g.n, bucket: g.bucket, cache: newCache[S, D](r.cfg.cacheSize)})
	g.cache.invalidateLoads()
	if r.pub == nil {
		return
	}
	r.subs.mu.Lock()
	keys := make(map[string]struct{})
	for s := range r.subs.set {
		keys[s.subscribedKey()] = struct{}{}
	}
	r.subs.mu.Unlock()
	for k := range keys {
		if k == "" {
			r.pub.push(r.controlChannel(), envelope[S, D]{origin: r.id, kind: envResyncAll})
			continue
		}
		r.pub.push(r.Channel(k), envelope[S, D]{origin: r.id, kind: envStale, u: Update[S, D]{Key: k}})
	}
}
