package storetest

import (
	"errors"

	"github.com/livefold/livefold/store"
)

func forceRules() []rule {
	return []rule{
		{name: "OverAnyVersion", run: testForceOverAnyVersion,
			text: "a write with Force replaces or deletes whatever is stored, or nothing, whatever its Expect"},
		{name: "OverDamaged", run: testForceOverDamaged, needs: needDamage,
			text: "a write with Force replaces or deletes a damaged record"},
	}
}

func damageRules() []rule {
	return []rule{
		{name: "Get", run: testDamageGet, needs: needDamage,
			text: "Get of a damaged record returns a *store.CorruptError naming bucket and key, and other records read as before"},
		{name: "Scan", run: testDamageScan, needs: needDamage,
			text: "Scan yields a damaged record's key with an error satisfying errors.Is(store.ErrCorrupt) and carries on with the rest"},
		{name: "Keys", run: testDamageKeys, needs: needDamage,
			text: "Keys lists a damaged record's key like any other, without an error"},
		{name: "CheckedWrite", run: testDamageCheckedWrite, needs: needDamage,
			text: "a write without Force over a damaged record fails its whole request with a *store.CorruptError; other requests commit"},
	}
}

// damagedBucket writes records a, b and c to bucket "b", damages b, and
// returns the store to use from then on with the records a and c.
func (e *env) damagedBucket() (s store.Store, a, b, c store.Record) {
	e.t.Helper()
	s = e.open()
	a, b, c = rec(1, 1, "a"), rec(2, 2, "b"), rec(3, 3, "c")
	e.commit(s, create("b", "a", a), create("b", "b", b), create("b", "c", c))
	s = e.damage(s, "b", "b")
	return s, a, b, c
}

// expectCorrupt fails the rule unless err is a *store.CorruptError naming
// bucket and key that satisfies errors.Is(err, store.ErrCorrupt).
func (e *env) expectCorrupt(what string, err error, bucket, key string) {
	e.t.Helper()
	var ce *store.CorruptError
	switch {
	case err == nil:
		e.t.Errorf("%s = nil; want a *store.CorruptError for %q/%q", what, bucket, key)
	case !errors.As(err, &ce):
		e.t.Errorf("%s = %v; want a *store.CorruptError for %q/%q", what, err, bucket, key)
	case !errors.Is(err, store.ErrCorrupt):
		e.t.Errorf("%s = %v: errors.Is(store.ErrCorrupt) = false", what, err)
	case ce.Bucket != bucket || ce.Key != key:
		e.t.Errorf("%s = %v: names %q/%q; want %q/%q", what, err, ce.Bucket, ce.Key, bucket, key)
	}
}

func testForceOverAnyVersion(e *env) {
	s := e.open()
	v5 := rec(5, 5, "five")
	e.commit(s, create("b", "k", v5))
	forced := []store.Write{
		{Bucket: "b", Key: "k", Expect: 1, ExpectStamp: 99, Force: true, Record: rec(6, 6, "six")},
		{Bucket: "b", Key: "k", Force: true, Record: rec(1, 7, "one")},
		{Bucket: "b", Key: "absent", Expect: 7, ExpectStamp: 7, Force: true, Record: rec(2, 8, "created")},
	}
	for _, w := range forced {
		e.commit(s, w)
		e.expectRecord(s, "b", w.Key, w.Record)
	}
	e.commit(s, store.Write{Bucket: "b", Key: "k", Expect: 42, Force: true, Delete: true})
	e.expectAbsent(s, "b", "k")
	// Next to a checked write of the same request.
	e.commit(s,
		store.Write{Bucket: "b", Key: "absent", Expect: 42, Force: true, Record: rec(3, 9, "again")},
		create("b", "k", rec(1, 10, "checked")))
	e.expectScan(s, "b", kr("absent", rec(3, 9, "again")), kr("k", rec(1, 10, "checked")))
}

func testForceOverDamaged(e *env) {
	s, a, _, c := e.damagedBucket()
	fixed := rec(3, 4, "repaired")
	e.commit(s, store.Write{Bucket: "b", Key: "b", Expect: 2, ExpectStamp: 2, Force: true, Record: fixed})
	e.expectRecord(s, "b", "b", fixed)
	e.expectScan(s, "b", kr("a", a), kr("b", fixed), kr("c", c))

	s = e.damage(s, "b", "a")
	e.commit(s, store.Write{Bucket: "b", Key: "a", Force: true, Delete: true})
	e.expectAbsent(s, "b", "a")
	e.expectScan(s, "b", kr("b", fixed), kr("c", c))
}

func testDamageGet(e *env) {
	s, a, _, c := e.damagedBucket()
	_, _, err := s.Get(e.ctx, "b", "b")
	e.expectCorrupt(`Get("b", "b")`, err, "b", "b")
	e.expectRecord(s, "b", "a", a)
	e.expectRecord(s, "b", "c", c)
}

func testDamageScan(e *env) {
	s, a, _, c := e.damagedBucket()
	e.requireWalks(s)
	got := e.scan(s, "b")
	if len(got) != 3 {
		e.t.Fatalf("Scan(b) yielded %d elements; want 3 (a, the damaged b, c): %+v", len(got), got)
	}
	for i, want := range []store.KeyRecord{kr("a", a), {Key: "b"}, kr("c", c)} {
		it := got[i]
		switch {
		case it.key != want.Key:
			e.t.Errorf("Scan(b) element %d: key %q; want %q", i, it.key, want.Key)
		case want.Key == "b":
			e.expectCorrupt("Scan(b) element for the damaged key", it.err, "b", "b")
		case it.err != nil:
			e.t.Errorf("Scan(b) element %q: error %v; want nil", it.key, it.err)
		default:
			if d := diffRecord(it.rec, want.Record); d != "" {
				e.t.Errorf("Scan(b) element %q: %s", it.key, d)
			}
		}
	}
}

func testDamageKeys(e *env) {
	s, _, _, _ := e.damagedBucket()
	e.requireWalks(s)
	var keys []string
	for _, it := range e.keys(s, "b") {
		if it.err != nil {
			e.t.Errorf("Keys(b) yielded error %v at %q; want none", it.err, it.key)
		}
		keys = append(keys, it.key)
	}
	if len(keys) != 3 || keys[0] != "a" || keys[1] != "b" || keys[2] != "c" {
		e.t.Errorf("Keys(b) = %q; want [a b c]", keys)
	}
}

func testDamageCheckedWrite(e *env) {
	s, a, b, c := e.damagedBucket()
	checked := [][]store.Write{
		{replace("b", "b", b, rec(3, 3, "over damaged"))},
		{remove("b", "b", b)},
		{create("b", "b", rec(1, 1, "create over damaged"))},
		{create("b", "new", rec(1, 1, "new")), replace("b", "b", b, rec(3, 3, "over damaged"))},
		{replace("b", "b", b, rec(3, 3, "over damaged")), replace("b", "a", a, rec(2, 2, "a2"))},
	}
	for _, req := range checked {
		err := e.outcome(s, req...)
		e.expectCorrupt("outcome of "+describe(req), err, "b", "b")
	}
	e.expectAbsent(s, "b", "new")
	e.expectRecord(s, "b", "a", a)
	// Requests that do not touch it commit, also behind one that does.
	release := e.hold(s)
	bad := e.submit(s, remove("b", "b", b))
	good := e.submit(s, replace("b", "c", c, rec(4, 4, "c2")))
	release()
	e.expectCorrupt("outcome of "+bad.what, e.wait(bad), "b", "b")
	if err := e.wait(good); err != nil {
		e.t.Errorf("outcome of %s behind a write over a damaged record = %v; want nil", good.what, err)
	}
	e.barrier(s)
	e.expectRecord(s, "b", "c", rec(4, 4, "c2"))
}
