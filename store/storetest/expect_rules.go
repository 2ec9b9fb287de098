package storetest

import (
	"errors"

	"github.com/livefold/livefold/store"
)

func expectRules() []rule {
	return []rule{
		{name: "AbsentIsZero", run: testExpectAbsentIsZero,
			text: "Expect 0 and ExpectStamp 0 mean absent: they match an absent key and nothing else, and any other Expect fails on an absent key"},
		{name: "WrongVersion", run: testExpectWrongVersion,
			text: "a write whose Expect differs from the stored version fails with a *store.ConflictError carrying bucket, key, expected and actual, and changes nothing"},
		{name: "WrongStamp", run: testExpectWrongStamp,
			text: "a write with the stored version but another stamp fails with a *store.ConflictError"},
		{name: "Delete", run: testExpectDelete,
			text: "a delete is checked like a put: the wrong Expect fails, the right one removes the record"},
		{name: "SeesEarlierRequests", run: testExpectSeesEarlierRequests,
			text: "Expect is checked against every earlier request, also those not yet reported and those of the same batch"},
	}
}

func conflictRules() []rule {
	return []rule{
		{name: "FailsOnlyItsRequest", run: testConflictFailsOnlyItsRequest,
			text: "a conflict fails only its own request; requests before and after it, also in the same batch, commit"},
		{name: "Atomic", run: testConflictAtomic,
			text: "a request with a conflicting write writes none of its writes"},
		{name: "LaterRequestsSeeNothing", run: testConflictLaterRequestsSeeNothing,
			text: "later requests, also of the same batch, are checked as if the failed request had never been submitted"},
	}
}

// expectConflict fails the rule unless err is a *store.ConflictError with
// the given fields that satisfies errors.Is(err, store.ErrConflict).
func (e *env) expectConflict(err error, bucket, key string, expected, expectedStamp, actual, actualStamp uint64) {
	e.t.Helper()
	want := store.ConflictError{Bucket: bucket, Key: key, Expected: expected, ExpectedStamp: expectedStamp, Actual: actual, ActualStamp: actualStamp}
	var ce *store.ConflictError
	switch {
	case err == nil:
		e.t.Errorf("outcome nil; want %v", &want)
	case !errors.As(err, &ce):
		e.t.Errorf("outcome %v; want a *store.ConflictError %v", err, &want)
	case !errors.Is(err, store.ErrConflict):
		e.t.Errorf("outcome %v: errors.Is(store.ErrConflict) = false", err)
	case *ce != want:
		e.t.Errorf("outcome %+v; want %+v", *ce, want)
	}
}

func testExpectAbsentIsZero(e *env) {
	s := e.open()
	r := rec(1, 5, "x")
	e.commit(s, create("b", "k", r))
	e.expectRecord(s, "b", "k", r)

	err := e.outcome(s, create("b", "k", rec(1, 6, "again")))
	e.expectConflict(err, "b", "k", 0, 0, 1, 5)

	absent := []store.Write{
		{Bucket: "b", Key: "absent", Expect: 1, Record: rec(2, 0, "")},
		{Bucket: "b", Key: "absent", Expect: 0, ExpectStamp: 5, Record: rec(1, 0, "")},
		{Bucket: "absent", Key: "k", Expect: 1, ExpectStamp: 5, Record: rec(2, 0, "")},
	}
	for _, w := range absent {
		err := e.outcome(s, w)
		e.expectConflict(err, w.Bucket, w.Key, w.Expect, w.ExpectStamp, 0, 0)
		e.expectAbsent(s, w.Bucket, w.Key)
	}
	e.expectRecord(s, "b", "k", r)
}

func testExpectWrongVersion(e *env) {
	s := e.open()
	v1, v2, v3 := rec(1, 7, "one"), rec(2, 8, "two"), rec(3, 9, "three")
	e.commit(s, create("b", "k", v1))
	e.commit(s, replace("b", "k", v1, v2))
	err := e.outcome(s, replace("b", "k", v1, v3))
	e.expectConflict(err, "b", "k", 1, 7, 2, 8)
	err = e.outcome(s, replace("b", "k", v3, v3))
	e.expectConflict(err, "b", "k", 3, 9, 2, 8)
	e.expectRecord(s, "b", "k", v2)
}

func testExpectWrongStamp(e *env) {
	s := e.open()
	v1 := rec(1, 7, "one")
	e.commit(s, create("b", "k", v1))
	for _, stamp := range []uint64{0, 6, 8, ^uint64(0)} {
		w := store.Write{Bucket: "b", Key: "k", Expect: 1, ExpectStamp: stamp, Record: rec(2, 1, "two")}
		err := e.outcome(s, w)
		e.expectConflict(err, "b", "k", 1, stamp, 1, 7)
	}
	e.expectRecord(s, "b", "k", v1)
}

func testExpectDelete(e *env) {
	s := e.open()
	v1 := rec(1, 7, "one")
	e.commit(s, create("b", "k", v1))
	err := e.outcome(s, remove("b", "k", rec(1, 6, "")))
	e.expectConflict(err, "b", "k", 1, 6, 1, 7)
	err = e.outcome(s, remove("b", "k", store.Record{}))
	e.expectConflict(err, "b", "k", 0, 0, 1, 7)
	e.expectRecord(s, "b", "k", v1)
	e.commit(s, remove("b", "k", v1))
	e.expectAbsent(s, "b", "k")
	err = e.outcome(s, remove("b", "k", v1))
	e.expectConflict(err, "b", "k", 1, 7, 0, 0)
}

func testExpectSeesEarlierRequests(e *env) {
	s := e.open()
	v1, v2, v3 := rec(1, 11, "one"), rec(2, 12, "two"), rec(3, 13, "three")
	again := rec(1, 14, "again")
	chain := []store.Write{
		create("b", "k", v1),
		replace("b", "k", v1, v2),
		replace("b", "k", v2, v3),
		remove("b", "k", v3),
		create("b", "k", again),
	}
	// Once submitted back to back, once queued behind a held callback so
	// that a store that groups commits checks them in one batch.
	for _, held := range []bool{false, true} {
		var release func()
		if held {
			release = e.hold(s)
		}
		var calls []*call
		for _, w := range chain {
			calls = append(calls, e.submit(s, w))
		}
		// Seen also when it makes a request fail.
		late := e.submit(s, create("b", "k", rec(1, 15, "late")))
		if release != nil {
			release()
		}
		for _, c := range calls {
			if err := e.wait(c); err != nil {
				e.t.Errorf("held %v: outcome of %s = %v; want nil", held, c.what, err)
			}
		}
		e.expectConflict(e.wait(late), "b", "k", 0, 0, 1, 14)
		e.barrier(s)
		e.expectRecord(s, "b", "k", again)
		e.commit(s, remove("b", "k", again))
	}
}

func testConflictFailsOnlyItsRequest(e *env) {
	s := e.open()
	old := rec(1, 1, "old")
	e.commit(s, create("b", "b", old))
	a, b, c := rec(1, 2, "a"), rec(2, 3, "b"), rec(1, 4, "c")
	release := e.hold(s)
	ca := e.submit(s, create("b", "a", a))
	cb := e.submit(s, replace("b", "b", rec(1, 9, ""), b))
	cc := e.submit(s, create("b", "c", c))
	release()
	if err := e.wait(ca); err != nil {
		e.t.Errorf("outcome of %s before a conflict = %v; want nil", ca.what, err)
	}
	e.expectConflict(e.wait(cb), "b", "b", 1, 9, 1, 1)
	if err := e.wait(cc); err != nil {
		e.t.Errorf("outcome of %s after a conflict = %v; want nil", cc.what, err)
	}
	e.barrier(s)
	e.expectScan(s, "b", kr("a", a), kr("b", old), kr("c", c))
}

func testConflictAtomic(e *env) {
	s := e.open()
	x, y := rec(1, 1, "x"), rec(1, 2, "y")
	e.commit(s, create("b", "y", y))
	requests := [][]store.Write{
		{create("b", "x", x), create("b", "y", rec(1, 3, "conflict"))},
		{create("b", "y", rec(1, 3, "conflict")), create("b", "x", x)},
		{create("other", "x", x), create("b", "y", rec(1, 3, "conflict"))},
		{remove("b", "y", y), create("b", "y2", x), replace("b", "x", x, rec(2, 4, "conflict"))},
	}
	for _, req := range requests {
		err := e.outcome(s, req...)
		if !errors.Is(err, store.ErrConflict) {
			e.t.Errorf("outcome of %s = %v; want a conflict", describe(req), err)
		}
	}
	e.expectScan(s, "b", kr("y", y))
	e.expectScan(s, "other")
}

func testConflictLaterRequestsSeeNothing(e *env) {
	s := e.open()
	y, z := rec(1, 2, "y"), rec(1, 4, "z")
	x2, y2 := rec(1, 6, "x"), rec(2, 7, "y2")
	e.commit(s, create("b", "y", y), create("b", "z", z))
	for _, held := range []bool{false, true} {
		var release func()
		if held {
			release = e.hold(s)
		}
		// The failed request would create x and delete y, had its last
		// write not conflicted; the later requests build on neither.
		failed := e.submit(s, create("b", "x", rec(1, 3, "failed")), remove("b", "y", y), create("b", "z", rec(1, 5, "conflict")))
		onX := e.submit(s, create("b", "x", x2))
		onY := e.submit(s, replace("b", "y", y, y2))
		if release != nil {
			release()
		}
		e.expectConflict(e.wait(failed), "b", "z", 0, 0, 1, 4)
		for _, c := range []*call{onX, onY} {
			if err := e.wait(c); err != nil {
				e.t.Errorf("held %v: outcome of %s after a failed request = %v; want nil", held, c.what, err)
			}
		}
		e.barrier(s)
		e.expectScan(s, "b", kr("x", x2), kr("y", y2), kr("z", z))
		e.commit(s, remove("b", "x", x2), replace("b", "y", y2, y))
	}
}
