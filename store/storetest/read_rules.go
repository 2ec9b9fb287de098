package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/livefold/livefold/store"
)

func readYourWritesRules() []rule {
	return []rule{
		{name: "GetScanKeys", run: testReadYourWrites,
			text: "Get, Scan and Keys called after a done(nil) returned see that write"},
		{name: "Overwrite", run: testReadOverwrite,
			text: "a replaced record reads back as the new record only, whatever the sizes of the old and new states"},
		{name: "DeleteRemoves", run: testReadDeleteRemoves,
			text: "after a delete reported, Get finds nothing and Scan and Keys skip the key"},
		{name: "DeleteAbsent", run: testReadDeleteAbsent,
			text: "deleting an absent key, also in an absent bucket, succeeds and creates nothing"},
	}
}

func scanRules() []rule {
	return []rule{
		{name: "KeyOrder", run: testScanKeyOrder,
			text: "Scan and Keys yield every record of a bucket once, in the byte order of the keys"},
		{name: "AbsentBucket", run: testScanAbsentBucket,
			text: "Scan and Keys of an absent or emptied bucket yield nothing, and no error"},
		{name: "BucketsIndependent", run: testScanBucketsIndependent,
			text: "buckets are independent: the same key in two buckets are two records, and a bucket whose name prefixes another's holds only its own"},
		{name: "CallerOwnsStates", run: testScanCallerOwnsStates,
			text: "states returned by Get and Scan belong to the caller, and so does a written state once its done ran: changing them changes nothing stored"},
		{name: "StopEarly", run: testScanStopEarly,
			text: "a loop over Scan or Keys may stop early; the store keeps serving"},
		{name: "CancelledContext", run: testScanCancelledContext,
			text: "a cancelled ctx ends a Scan or Keys walk with ctx's error as its last element"},
	}
}

func testReadYourWrites(e *env) {
	s := e.open()
	var want []store.KeyRecord
	for i := range 5 {
		key := fmt.Sprintf("k%d", i)
		r := rec(1, uint64(i), "state "+key)
		e.commit(s, create("b", key, r))
		want = append(want, kr(key, r))
		e.expectRecord(s, "b", key, r)
		e.expectScan(s, "b", want...)
	}
	// Several requests, waited for only through the last one's outcome.
	var calls []*call
	for i := range want {
		next := rec(2, uint64(10+i), "second "+want[i].Key)
		calls = append(calls, e.submit(s, replace("b", want[i].Key, want[i].Record, next)))
		want[i].Record = next
	}
	if err := e.outcome(s); err != nil {
		e.t.Fatalf("outcome of an empty request = %v; want nil", err)
	}
	for _, c := range calls {
		if err := e.wait(c); err != nil {
			e.t.Errorf("outcome of %s = %v; want nil", c.what, err)
		}
	}
	for _, w := range want {
		e.expectRecord(s, "b", w.Key, w.Record)
	}
	e.expectScan(s, "b", want...)
}

func testReadOverwrite(e *env) {
	s := e.open()
	prev := store.Record{}
	for i, state := range []string{"short", strings.Repeat("long ", 1000), "", "x", strings.Repeat("y", 70000), "z"} {
		r := rec(uint64(i+1), uint64(i), state)
		e.commit(s, replace("b", "k", prev, r))
		e.expectRecord(s, "b", "k", r)
		e.expectScan(s, "b", kr("k", r))
		prev = r
	}
}

func testReadDeleteRemoves(e *env) {
	s := e.open()
	a, b, c := rec(1, 1, "a"), rec(1, 2, "b"), rec(1, 3, "c")
	e.commit(s, create("b", "a", a), create("b", "b", b), create("b", "c", c))
	e.commit(s, remove("b", "b", b))
	e.expectAbsent(s, "b", "b")
	e.expectScan(s, "b", kr("a", a), kr("c", c))
	e.commit(s, remove("b", "a", a), remove("b", "c", c))
	e.expectAbsent(s, "b", "a")
	e.expectScan(s, "b")
	// A deleted key can be created again.
	e.commit(s, create("b", "b", c))
	e.expectScan(s, "b", kr("b", c))
}

func testReadDeleteAbsent(e *env) {
	s := e.open()
	gone := store.Write{Bucket: "nobucket", Key: "k", Delete: true}
	e.commit(s, gone)
	e.expectAbsent(s, "nobucket", "k")
	e.expectScan(s, "nobucket")
	a := rec(1, 1, "a")
	e.commit(s, create("b", "a", a))
	e.commit(s, store.Write{Bucket: "b", Key: "nokey", Delete: true})
	e.expectAbsent(s, "b", "nokey")
	e.expectScan(s, "b", kr("a", a))
	// Force changes nothing about it.
	e.commit(s, store.Write{Bucket: "b", Key: "nokey", Delete: true, Force: true, Expect: 3})
	e.expectScan(s, "b", kr("a", a))
}

// orderKeys returns keys that sort differently by bytes, by runes read as
// case-folded text, by length and by number: a store that walks in any
// order but byte order fails on them.
func orderKeys() []string {
	keys := []string{
		"a", "A", "a\x00", "a\x00b", "aa", "a.b", "a/b", "a b", "a~", "b", "B", "Z", "z",
		"1", "10", "2", "9", "09", "-1", "+", "*", ">", "~", "\x01", "\x7f",
		"é", "e", "f", "ß", "ss", "日本", "日", "本", "🙂", "\u00a0", "\uffff", "\U0010ffff",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for len(keys) < 600 {
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = byte('!' + rng.IntN('~'-'!'+1))
		}
		if k := string(b); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func testScanKeyOrder(e *env) {
	s := e.open()
	e.requireWalks(s)
	keys := orderKeys()
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var want []store.KeyRecord
	for start := 0; start < len(keys); start += 100 {
		var writes []store.Write
		for i, key := range keys[start:min(start+100, len(keys))] {
			r := rec(1, uint64(start+i), "state of "+key)
			writes = append(writes, create("b", key, r))
			want = append(want, kr(key, r))
		}
		e.commit(s, writes...)
	}
	sortKeyRecords(want)
	e.expectScan(s, "b", want...)
}

func testScanAbsentBucket(e *env) {
	s := e.open()
	e.requireWalks(s)
	e.expectScan(s, "absent")
	r := rec(1, 1, "x")
	e.commit(s, create("b", "k", r))
	e.expectScan(s, "absent")
	e.commit(s, remove("b", "k", r))
	e.expectScan(s, "b")
}

func testScanBucketsIndependent(e *env) {
	s := e.open()
	buckets := []string{"p", "p2", "p.q", "q", "P"}
	for i, b := range buckets {
		e.commit(s, create(b, "k", rec(1, uint64(i), "k in "+b)), create(b, b, rec(1, uint64(i), "own key of "+b)))
	}
	for i, b := range buckets {
		want := []store.KeyRecord{kr("k", rec(1, uint64(i), "k in "+b)), kr(b, rec(1, uint64(i), "own key of "+b))}
		sortKeyRecords(want)
		e.expectScan(s, b, want...)
		for _, other := range buckets {
			if other != b {
				e.expectAbsent(s, b, other)
			}
		}
	}
	// Deleting from one bucket leaves the others.
	e.commit(s, remove("p", "k", rec(1, 0, "")))
	e.expectAbsent(s, "p", "k")
	e.expectRecord(s, "p2", "k", rec(1, 1, "k in p2"))
	e.expectRecord(s, "P", "k", rec(1, 4, "k in P"))
}

func testScanCallerOwnsStates(e *env) {
	s := e.open()
	written := []byte("written state")
	a := rec(1, 1, "")
	a.State = written
	b := rec(1, 2, "second")
	e.commit(s, create("b", "a", a), create("b", "b", b))
	copy(written, "WRITTEN")
	a = rec(1, 1, "written state")
	e.expectRecord(s, "b", "a", a)

	got, _ := e.get(s, "b", "a")
	copy(got.State, "CHANGED")
	e.expectRecord(s, "b", "a", a)

	for _, it := range e.scan(s, "b") {
		for i := range it.rec.State {
			it.rec.State[i] = 'X'
		}
	}
	e.expectScan(s, "b", kr("a", a), kr("b", b))
	e.expectRecord(s, "b", "a", a)
}

func testScanStopEarly(e *env) {
	s := e.open()
	e.requireWalks(s)
	var want []store.KeyRecord
	var writes []store.Write
	for i := range 10 {
		key := fmt.Sprintf("k%d", i)
		r := rec(1, uint64(i), key)
		writes = append(writes, create("b", key, r))
		want = append(want, kr(key, r))
	}
	e.commit(s, writes...)
	for kr, err := range s.Scan(e.ctx, "b") {
		if err != nil || kr.Key != "k0" {
			e.t.Errorf("Scan(b) first element %q, %v; want k0, nil", kr.Key, err)
		}
		break
	}
	for k, err := range s.Keys(e.ctx, "b") {
		if err != nil || k != "k0" {
			e.t.Errorf("Keys(b) first element %q, %v; want k0, nil", k, err)
		}
		break
	}
	n := 0
	for range s.Scan(e.ctx, "b") {
		if n++; n == 5 {
			break
		}
	}
	more := rec(1, 99, "after")
	e.commit(s, create("b", "later", more))
	want = append(want, kr("later", more))
	e.expectScan(s, "b", want...)
}

// expectWalkEnds fails the rule unless a walk's elements are a prefix of
// want, without errors, followed by nothing or by one element with ctx's
// error; with mustFail, the error is required.
func (e *env) expectWalkEnds(walk string, got []item, want []string, mustFail bool) {
	e.t.Helper()
	for i, it := range got {
		if it.err != nil {
			if !errors.Is(it.err, context.Canceled) {
				e.t.Errorf("%s element %d: error %v; want nil or an error wrapping context.Canceled", walk, i, it.err)
			}
			if i != len(got)-1 {
				e.t.Errorf("%s yielded %d elements after the error %v; want none", walk, len(got)-1-i, it.err)
			}
			return
		}
		if i >= len(want) || it.key != want[i] {
			e.t.Errorf("%s element %d: key %q; want the walk in order, %q", walk, i, it.key, want)
			return
		}
	}
	switch {
	case mustFail:
		e.t.Errorf("%s with a cancelled ctx yielded %d elements and no error; want ctx's error last", walk, len(got))
	case len(got) != len(want):
		e.t.Errorf("%s ended after %d elements without an error; want all %d or ctx's error", walk, len(got), len(want))
	}
}

func testScanCancelledContext(e *env) {
	s := e.open()
	e.requireWalks(s)
	var keys []string
	var writes []store.Write
	for i := range 20 {
		key := fmt.Sprintf("k%02d", i)
		keys = append(keys, key)
		writes = append(writes, create("b", key, rec(1, 1, key)))
	}
	e.commit(s, writes...)
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	e.expectWalkEnds("Scan(b, cancelled ctx)", e.scanCtx(cancelled, s, "b"), keys, true)
	e.expectWalkEnds("Keys(b, cancelled ctx)", e.keysCtx(cancelled, s, "b"), keys, true)
	e.expectWalkEnds("Scan(absent, cancelled ctx)", e.scanCtx(cancelled, s, "absent"), nil, true)

	// Cancelled while walking: the walk ends, at the latest once it has
	// nothing more to yield.
	for _, walk := range []string{"Scan", "Keys"} {
		ctx, cancel := context.WithCancel(e.ctx)
		var got []item
		yield := func(key string, err error) {
			got = append(got, item{key: key, err: err})
			if len(got) == 1 {
				cancel()
			}
		}
		if walk == "Scan" {
			for kr, err := range s.Scan(ctx, "b") {
				yield(kr.Key, err)
			}
		} else {
			for k, err := range s.Keys(ctx, "b") {
				yield(k, err)
			}
		}
		cancel()
		e.expectWalkEnds(walk+"(b) cancelled after its first element", got, keys, false)
	}
	// The store keeps serving.
	e.expectRecord(s, "b", "k00", rec(1, 1, "k00"))
}
