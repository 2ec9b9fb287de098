package storetest

import (
	"context"
	"errors"
	"time"

	"github.com/livefold/livefold/store"
)

func changesRules() []rule {
	return []rule{
		{name: "OtherHandlesCommits", run: testChangesOtherHandle, needs: needSecond,
			text: "Changes yields every commit another handle of the same data makes, with its lineage and version, in commit order per key (or says ErrUnsupported)"},
	}
}

func testChangesOtherHandle(e *env) {
	first := e.open()
	other := e.second(first)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	type item struct {
		c   store.Change
		err error
	}
	feed := make(chan item, 64)
	started := make(chan struct{})
	go func() {
		defer close(feed)
		close(started)
		for c, err := range first.Changes(ctx) {
			select {
			case feed <- item{c, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	<-started
	// A feed that says it has nothing to follow does so at once. Before any
	// commit it may yield nothing else but a Reset: a feed that began
	// listening after the call cannot know what it missed meanwhile.
	select {
	case it := <-feed:
		if errors.Is(it.err, store.ErrUnsupported) {
			e.t.Skipf("storetest: the store follows no other handles: %v", it.err)
		}
		if it.err != nil || it.c != (store.Change{Reset: true}) {
			e.t.Fatalf("Changes yielded %+v, %v before any commit", it.c, it.err)
		}
	case <-time.After(100 * time.Millisecond):
	}
	// The feed may start listening a moment after Changes was called: keep
	// committing new versions until one is seen, then require the rest in
	// order.
	var version uint64
	prev := store.Record{}
	deadline := time.After(waitTimeout)
	for {
		version++
		next := rec(version, version, "v")
		next.Lineage = 7
		if version == 1 {
			e.commit(other, create("changes", "k", next))
		} else {
			e.commit(other, replace("changes", "k", prev, next))
		}
		prev = next
		select {
		case it, ok := <-feed:
			if !ok || it.err != nil {
				e.t.Fatalf("Changes ended: %v", it.err)
			}
			if it.c.Reset {
				continue
			}
			if it.c.Bucket != "changes" || it.c.Key != "k" || it.c.Lineage != 7 || it.c.Version == 0 || it.c.Version > version {
				e.t.Fatalf("Changes yielded %+v; want bucket changes, key k, lineage 7, a version up to %d", it.c, version)
			}
			last := it.c.Version
			for last < version {
				it := <-feed
				if it.err != nil || it.c.Version != last+1 {
					e.t.Fatalf("Changes yielded %+v, %v after version %d; want version %d", it.c, it.err, last, last+1)
				}
				last = it.c.Version
			}
			return
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			e.t.Fatalf("Changes yielded nothing in %v of commits by another handle", waitTimeout)
		}
	}
}
