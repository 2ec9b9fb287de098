package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/store"
)

// feedItem is one value a Changes walk yielded.
type feedItem struct {
	c   store.Change
	err error
}

// follow walks s.Changes on a goroutine until t ends or the walk ends, and
// returns what it yields, in order. The channel is closed when the walk
// ended.
func follow(t *testing.T, s store.Store) <-chan feedItem {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	feed := make(chan feedItem, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(feed)
		for c, err := range s.Changes(ctx) {
			select {
			case feed <- feedItem{c, err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return feed
}

// nextItem returns the next value feed yields.
func nextItem(t *testing.T, feed <-chan feedItem) feedItem {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case it, ok := <-feed:
		if !ok {
			t.Fatal("the Changes walk ended")
		}
		return it
	case <-timer.C:
		t.Fatalf("Changes yielded nothing within %v", waitTimeout)
		return feedItem{}
	}
}

// nextChange returns the next change feed yields, failing t on an error.
func nextChange(t *testing.T, feed <-chan feedItem) store.Change {
	t.Helper()
	it := nextItem(t, feed)
	if it.err != nil {
		t.Fatalf("Changes yielded %v", it.err)
	}
	return it.c
}

// awaitListening commits new versions of a probe key through other until
// feed yields the latest of them, since a feed begins a moment after
// Changes is called (with a Reset, and without the commits made before it
// listened), and returns once it did: every commit other makes from then on
// is announced on feed after everything before it.
func awaitListening(t *testing.T, feed <-chan feedItem, other store.Store) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	var prev store.Record
	for v := uint64(1); ; v++ {
		next := rec(v, v, "probe")
		if v == 1 {
			commit(t, other, create("probe", "p", next))
		} else {
			commit(t, other, replace("probe", "p", prev, next))
		}
		prev = next
		tick := time.NewTimer(10 * time.Millisecond)
	wait:
		for {
			select {
			case it, ok := <-feed:
				if !ok || it.err != nil {
					tick.Stop()
					t.Fatalf("Changes ended: %v", it.err)
				}
				if !it.c.Reset && it.c.Bucket == "probe" && it.c.Version == v {
					tick.Stop()
					return
				}
				// A Reset, or an earlier probe: the latest may not be
				// announced, if it was made before the feed listened.
			case <-tick.C:
				break wait
			case <-deadline.C:
				tick.Stop()
				t.Fatalf("Changes did not yield the latest of %d commits by another store in %v", v, waitTimeout)
			}
		}
	}
}

// expectChanges fails t unless feed yields want next, in order.
func expectChanges(t *testing.T, feed <-chan feedItem, want ...store.Change) {
	t.Helper()
	for i, w := range want {
		if got := nextChange(t, feed); got != w {
			t.Fatalf("change %d = %s; want %s", i, describe(got), describe(w))
		}
	}
}

// describe shortens long keys for messages.
func describe(c store.Change) string {
	key := c.Key
	if len(key) > 40 {
		key = fmt.Sprintf("%q… (%d bytes)", key[:20], len(key))
	}
	return fmt.Sprintf("{%s %q lineage %d version %d reset %v}", c.Bucket, key, c.Lineage, c.Version, c.Reset)
}

// pair opens two Stores on a new table: the one whose feed the test
// follows, and another that writes.
func pair(t *testing.T) (follower, other *pgstore.Store) {
	t.Helper()
	url := pgURL(t)
	table := newTable(t, adminPool(t))
	return openStore(t, url, pgstore.WithTable(table)), openStore(t, url, pgstore.WithTable(table))
}

// Ensure that Changes yields the writes another store commits, each
// request's in order, deletes with lineage and version 0, and nothing of
// its own commits or of requests that failed their checks.
func TestStore_Changes_OthersWritesOnly(t *testing.T) {
	s, other := pair(t)
	feed := follow(t, s)
	awaitListening(t, feed, other)

	d1 := rec(1, 1, "to delete")
	commit(t, other, create("b", "d", d1))
	expectChanges(t, feed, store.Change{Bucket: "b", Key: "d", Lineage: d1.Lineage, Version: 1})

	commit(t, s, create("b", "mine", rec(1, 1, "own")))
	a1, a2 := rec(1, 1, "a1"), rec(2, 2, "a2")
	chs := []<-chan error{
		submit(t, other, create("b", "a", a1)),
		submit(t, other, create("b", "c", rec(1, 1, "c")), create("b", "a", rec(1, 3, "conflicts"))),
		submit(t, other, replace("b", "a", a1, a2), store.Write{Bucket: "b", Key: "d", Expect: d1.Version, ExpectStamp: d1.Stamp, Delete: true}),
		submit(t, other, create("b2", "end", rec(1, 9, "end"))),
	}
	for i, ch := range chs {
		err := outcome(t, ch)
		if (i == 1) != errors.Is(err, store.ErrConflict) {
			t.Fatalf("outcome of request %d = %v", i, err)
		}
	}
	expectChanges(t, feed,
		store.Change{Bucket: "b", Key: "a", Lineage: a1.Lineage, Version: 1},
		store.Change{Bucket: "b", Key: "a", Lineage: a2.Lineage, Version: 2},
		store.Change{Bucket: "b", Key: "d"},
		store.Change{Bucket: "b2", Key: "end", Lineage: rec(1, 9, "").Lineage, Version: 1},
	)
}

// Ensure that keys of any length and content are announced whole and
// exact, also where a notice must be sent in several payloads: the longest
// key, one that is longest once escaped, and keys holding the notice
// format's own separators.
func TestStore_Changes_LongKeys(t *testing.T) {
	s, other := pair(t)
	feed := follow(t, s)
	awaitListening(t, feed, other)

	keys := []string{
		strings.Repeat("é", store.MaxKeyLen/2),
		strings.Repeat("\x00\x01", store.MaxKeyLen/2),
		"3:abc\n1 2\n",
		strings.Repeat("k", 7990) + "€",
	}
	var writes []store.Write
	var want []store.Change
	for i, k := range keys {
		r := rec(1, uint64(i), "s")
		writes = append(writes, create("b", k, r))
		want = append(want, store.Change{Bucket: "b", Key: k, Lineage: r.Lineage, Version: 1})
	}
	commit(t, other, writes...)
	expectChanges(t, feed, want...)
}

// Ensure that a transaction that writes more keys than a notice carries is
// announced as a Reset, and that changes after it are announced as usual.
func TestStore_Changes_HugeTransactionIsReset(t *testing.T) {
	s, other := pair(t)
	feed := follow(t, s)
	awaitListening(t, feed, other)

	var writes []store.Write
	for i := range 9 {
		writes = append(writes, create("b", fmt.Sprintf("%d-%s", i, strings.Repeat("k", store.MaxKeyLen-8)), rec(1, 1, "s")))
	}
	commit(t, other, writes...)
	expectChanges(t, feed, store.Change{Reset: true})
	r := rec(1, 1, "after")
	commit(t, other, create("b", "after", r))
	expectChanges(t, feed, store.Change{Bucket: "b", Key: "after", Lineage: r.Lineage, Version: 1})
}

// Ensure that a Changes walk that leaves more changes unread than a few
// thousand receives a Reset in their place, and the changes after it.
func TestStore_Changes_SlowReaderGetsReset(t *testing.T) {
	s, other := pair(t)
	feed := follow(t, s)
	awaitListening(t, feed, other)

	const n = 5000 // more than the store keeps unread, in one notice
	writes := make([]store.Write, n)
	for i := range writes {
		writes[i] = create("b", fmt.Sprintf("k%d", i), rec(1, 1, "s"))
	}
	commit(t, other, writes...)
	// The whole notice arrives while the walk is between two reads: the
	// first reads after it find a Reset, then the last changes.
	resets, last := 0, store.Change{}
	for last.Key != fmt.Sprintf("k%d", n-1) {
		c := nextChange(t, feed)
		if c.Reset {
			resets++
			continue
		}
		last = c
	}
	if resets == 0 {
		t.Fatalf("a walk that left %d changes unread yielded no Reset", n)
	}
}

// Ensure that a Changes call that began before the store listened yields a
// Reset first, since a commit made before the LISTEN is never announced, and
// then the commits made after it.
func TestStore_Changes_FirstListenYieldsReset(t *testing.T) {
	s, other := pair(t)
	feed := follow(t, s)
	expectChanges(t, feed, store.Change{Reset: true})
	awaitListening(t, feed, other)
	r := rec(1, 1, "x")
	commit(t, other, create("b", "k", r))
	expectChanges(t, feed, store.Change{Bucket: "b", Key: "k", Lineage: r.Lineage, Version: 1})
}

// Ensure that when the connection a store listens on is lost (its server
// process terminated), Changes yields a Reset once it listens again, and
// then the commits made after it, with none of the walk's values lost.
func TestStore_Changes_LostConnectionYieldsReset(t *testing.T) {
	s, other := pair(t)
	admin := adminPool(t)
	feed := follow(t, s)
	awaitListening(t, feed, other)

	var pid int64
	err := admin.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity WHERE query = $1`,
		"LISTEN "+pgx.Identifier{pgstore.Channel(s)}.Sanitize()).Scan(&pid)
	if err != nil {
		t.Fatalf("find the listening connection: %v", err)
	}
	var terminated bool
	if err := admin.QueryRow(context.Background(), `SELECT pg_terminate_backend($1, 60000)`, pid).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v; want true", pid, terminated, err)
	}
	expectChanges(t, feed, store.Change{Reset: true})
	r := rec(1, 1, "after")
	commit(t, other, create("b", "after", r))
	expectChanges(t, feed, store.Change{Bucket: "b", Key: "after", Lineage: r.Lineage, Version: 1})
}

// Ensure that Close ends every Changes walk with store.ErrClosed, and that
// Changes after Close yields it at once.
func TestStore_Changes_Close(t *testing.T) {
	s, other := pair(t)
	feed := follow(t, s)
	awaitListening(t, feed, other)
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if it := nextItem(t, feed); !errors.Is(it.err, store.ErrClosed) {
		t.Fatalf("Changes during Close yielded %+v, %v; want store.ErrClosed", it.c, it.err)
	}
	for c, err := range s.Changes(context.Background()) {
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("Changes after Close yielded %+v, %v; want store.ErrClosed", c, err)
		}
	}
}
