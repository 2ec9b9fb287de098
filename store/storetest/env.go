package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livefold/livefold/store"
)

// waitTimeout bounds every wait of the suite, so that a store that never
// calls a done callback fails the rule instead of hanging the test binary.
// It is a guard against hangs, not an assertion about speed.
const waitTimeout = 30 * time.Second

// env is one rule's run: its stores, the done callbacks it handed out, and
// the helpers the rules share. Methods that may fail the rule are for the
// rule's goroutine only; newCall and trySubmit are safe from any.
type env struct {
	t   *testing.T
	h   Harness
	ctx context.Context

	mu    sync.Mutex // guards calls
	calls []*call
}

func newEnv(t *testing.T, h Harness) *env {
	e := &env{t: t, h: h, ctx: t.Context()}
	// Registered first, so it runs last: after every store was closed, and
	// so after every accepted request reported.
	t.Cleanup(e.checkCalls)
	return e
}

// call is one done callback the suite handed to a store: how often the store
// called it, and the first outcome.
type call struct {
	what     string
	n        atomic.Int32
	outcome  chan error // receives the first outcome; capacity 1
	accepted atomic.Bool
	// then, if set, runs inside done before the outcome is recorded.
	then func(error)
}

func (c *call) done(err error) {
	if c.n.Add(1) != 1 {
		return
	}
	// Sent last, so that what then wrote is visible to a waiter; deferred,
	// so that a then that panics still reports.
	defer func() { c.outcome <- err }()
	if c.then != nil {
		c.then(err)
	}
}

// newCall returns a tracked callback; checkCalls verifies, once the stores
// are closed, that it was called once if Submit accepted it and never
// otherwise.
func (e *env) newCall(what string) *call {
	c := &call{what: what, outcome: make(chan error, 1)}
	e.mu.Lock()
	e.calls = append(e.calls, c)
	e.mu.Unlock()
	return c
}

func (e *env) checkCalls() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.calls {
		n := c.n.Load()
		switch {
		case c.accepted.Load() && n != 1:
			e.t.Errorf("done of %s was called %d times after Submit accepted it; want exactly once", c.what, n)
		case !c.accepted.Load() && n != 0:
			e.t.Errorf("done of %s was called %d times after Submit refused it; want never", c.what, n)
		}
	}
}

// open returns a fresh store from the harness, closed when the rule ends.
func (e *env) open() store.Store {
	e.t.Helper()
	s := e.h.Open(e.t)
	if s == nil {
		e.t.Fatal("storetest: Harness.Open returned nil")
	}
	e.adopt(s, "Open")
	return s
}

// adopt closes s when the rule ends, failing it if Close fails.
func (e *env) adopt(s store.Store, from string) {
	e.t.Cleanup(func() {
		if err := s.Close(); err != nil {
			e.t.Errorf("storetest: Close of the store from Harness.%s = %v; want nil", from, err)
		}
	})
}

// reopen closes s and returns a new handle on its data from Harness.Reopen.
func (e *env) reopen(s store.Store) store.Store {
	e.t.Helper()
	if err := s.Close(); err != nil {
		e.t.Fatalf("Close before Reopen = %v", err)
	}
	s2 := e.h.Reopen(e.t, s)
	if s2 == nil {
		e.t.Fatal("storetest: Harness.Reopen returned nil")
	}
	e.adopt(s2, "Reopen")
	return s2
}

// damage damages bucket/key through Harness.Damage and returns the handle to
// use from then on.
func (e *env) damage(s store.Store, bucket, key string) store.Store {
	e.t.Helper()
	s2 := e.h.Damage(e.t, s, bucket, key)
	if s2 == nil {
		e.t.Fatal("storetest: Harness.Damage returned nil")
	}
	if s2 != s {
		e.adopt(s2, "Damage")
	}
	return s2
}

// second returns another writer of s's data from Harness.Second.
func (e *env) second(s store.Store) store.Store {
	e.t.Helper()
	s2 := e.h.Second(e.t, s)
	if s2 == nil {
		e.t.Fatal("storetest: Harness.Second returned nil")
	}
	if s2 != s {
		e.adopt(s2, "Second")
	}
	return s2
}

// trySubmit submits writes with a tracked callback and returns Submit's
// error.
func (e *env) trySubmit(s store.Store, writes ...store.Write) (*call, error) {
	return e.trySubmitThen(s, nil, writes...)
}

// trySubmitThen is trySubmit with then run inside done.
func (e *env) trySubmitThen(s store.Store, then func(error), writes ...store.Write) (*call, error) {
	c := e.newCall(describe(writes))
	c.then = then
	err := s.Submit(e.ctx, writes, c.done)
	c.accepted.Store(err == nil)
	return c, err
}

// submit submits writes, failing the rule if Submit refuses them.
func (e *env) submit(s store.Store, writes ...store.Write) *call {
	e.t.Helper()
	c, err := e.trySubmit(s, writes...)
	if err != nil {
		e.t.Fatalf("Submit(%s) = %v; want nil", c.what, err)
	}
	return c
}

// wait returns the outcome of c.
func (e *env) wait(c *call) error {
	e.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case err := <-c.outcome:
		c.outcome <- err // keep it for another wait
		return err
	case <-timer.C:
		e.t.Fatalf("done of %s was not called within %v", c.what, waitTimeout)
		return nil
	}
}

// outcome submits writes and returns their outcome once their done
// returned: it waits for a barrier submitted behind them too, as the
// contract promises reads see a write only after its done returned.
func (e *env) outcome(s store.Store, writes ...store.Write) error {
	e.t.Helper()
	c := e.submit(s, writes...)
	b := e.submit(s)
	err := e.wait(c)
	if berr := e.wait(b); berr != nil {
		e.t.Fatalf("an empty request behind %s failed: %v", c.what, berr)
	}
	return err
}

// commit submits writes and fails the rule unless they commit.
func (e *env) commit(s store.Store, writes ...store.Write) {
	e.t.Helper()
	if err := e.outcome(s, writes...); err != nil {
		e.t.Fatalf("outcome of %s = %v; want nil", describe(writes), err)
	}
}

// barrier submits an empty request and waits for its outcome, which must be
// nil; afterwards every earlier request has reported.
func (e *env) barrier(s store.Store) {
	e.t.Helper()
	if err := e.wait(e.submit(s)); err != nil {
		e.t.Fatalf("outcome of an empty request = %v; want nil", err)
	}
}

// hold makes s call a done callback that blocks until release is called, and
// returns once it blocks; a store that reports in order reports nothing
// submitted later meanwhile, and one that groups commits takes those
// requests as one batch when released. The rule's cleanup releases it
// before the stores close.
func (e *env) hold(s store.Store) (release func()) {
	e.t.Helper()
	entered, released := make(chan struct{}), make(chan struct{})
	c := e.newCall("an empty request whose done blocks")
	c.then = func(error) {
		close(entered)
		<-released
	}
	if err := s.Submit(e.ctx, nil, c.done); err != nil {
		e.t.Fatalf("Submit(an empty request) = %v; want nil", err)
	}
	c.accepted.Store(true)
	var once sync.Once
	release = func() { once.Do(func() { close(released) }) }
	e.t.Cleanup(release)
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case <-entered:
	case <-timer.C:
		e.t.Fatalf("done of an empty request was not called within %v", waitTimeout)
	}
	return release
}

// get returns the record at bucket/key, failing the rule on an error.
func (e *env) get(s store.Store, bucket, key string) (store.Record, bool) {
	e.t.Helper()
	r, ok, err := s.Get(e.ctx, bucket, key)
	if err != nil {
		e.t.Fatalf("Get(%q, %q) = %v; want nil", bucket, store.QuoteKey(key), err)
	}
	return r, ok
}

// expectRecord fails the rule unless Get returns want at bucket/key.
func (e *env) expectRecord(s store.Store, bucket, key string, want store.Record) {
	e.t.Helper()
	got, ok := e.get(s, bucket, key)
	if !ok {
		e.t.Errorf("Get(%q, %q) found nothing; want version %d", bucket, store.QuoteKey(key), want.Version)
		return
	}
	if d := diffRecord(got, want); d != "" {
		e.t.Errorf("Get(%q, %q): %s", bucket, store.QuoteKey(key), d)
	}
}

// expectAbsent fails the rule unless Get finds nothing at bucket/key.
func (e *env) expectAbsent(s store.Store, bucket, key string) {
	e.t.Helper()
	if got, ok := e.get(s, bucket, key); ok {
		e.t.Errorf("Get(%q, %q) found version %d (stamp %d); want nothing", bucket, store.QuoteKey(key), got.Version, got.Stamp)
	}
}

// item is one element a walk yielded.
type item struct {
	key string
	rec store.Record
	err error
}

// maxWalk bounds how many elements scan and keys take, so that a walk that
// never ends fails the rule.
const maxWalk = 1 << 16

// scan collects what Scan yields for bucket.
func (e *env) scan(s store.Store, bucket string) []item {
	return e.scanCtx(e.ctx, s, bucket)
}

func (e *env) scanCtx(ctx context.Context, s store.Store, bucket string) []item {
	e.t.Helper()
	var out []item
	for kr, err := range s.Scan(ctx, bucket) {
		out = append(out, item{key: kr.Key, rec: kr.Record, err: err})
		if len(out) > maxWalk {
			e.t.Fatalf("Scan(%q) yielded more than %d elements", bucket, maxWalk)
		}
	}
	return out
}

// keys collects what Keys yields for bucket.
func (e *env) keys(s store.Store, bucket string) []item {
	return e.keysCtx(e.ctx, s, bucket)
}

func (e *env) keysCtx(ctx context.Context, s store.Store, bucket string) []item {
	e.t.Helper()
	var out []item
	for k, err := range s.Keys(ctx, bucket) {
		out = append(out, item{key: k, err: err})
		if len(out) > maxWalk {
			e.t.Fatalf("Keys(%q) yielded more than %d elements", bucket, maxWalk)
		}
	}
	return out
}

// unsupported reports whether a walk yielded one error wrapping
// store.ErrUnsupported and nothing else: the store cannot walk buckets, as
// the contract allows.
func unsupported(its []item) bool {
	return len(its) == 1 && errors.Is(its[0].err, store.ErrUnsupported)
}

// supports probes whether s can Scan and Keys.
func (e *env) supports(s store.Store) (scan, keys bool) {
	e.t.Helper()
	return !unsupported(e.scan(s, "storetest-probe")), !unsupported(e.keys(s, "storetest-probe"))
}

// requireWalks skips the rule, which is about Scan and Keys, if s cannot
// do both.
func (e *env) requireWalks(s store.Store) {
	e.t.Helper()
	if scan, keys := e.supports(s); !scan || !keys {
		e.t.Skipf("the store does not support Scan (%v) or Keys (%v): they yield store.ErrUnsupported", !scan, !keys)
	}
}

// expectScan fails the rule unless Scan and Keys of bucket yield exactly
// want, in order, without errors; a walk the store does not support is
// not checked.
func (e *env) expectScan(s store.Store, bucket string, want ...store.KeyRecord) {
	e.t.Helper()
	if got := e.scan(s, bucket); !unsupported(got) {
		e.compareScan(bucket, got, want)
	}
	if keys := e.keys(s, bucket); !unsupported(keys) {
		e.compareKeys(bucket, keys, want)
	}
}

func (e *env) compareScan(bucket string, got []item, want []store.KeyRecord) {
	e.t.Helper()
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			e.t.Errorf("Scan(%q) ended after %d records; want %d, next %q", bucket, len(got), len(want), store.QuoteKey(want[i].Key))
		case got[i].err != nil:
			e.t.Errorf("Scan(%q) element %d: error %v; want none", bucket, i, got[i].err)
		case i >= len(want):
			e.t.Errorf("Scan(%q) yielded %q after the %d records wanted", bucket, store.QuoteKey(got[i].key), len(want))
		case got[i].key != want[i].Key:
			e.t.Errorf("Scan(%q) element %d: key %q; want %q", bucket, i, store.QuoteKey(got[i].key), store.QuoteKey(want[i].Key))
		default:
			if d := diffRecord(got[i].rec, want[i].Record); d != "" {
				e.t.Errorf("Scan(%q) key %q: %s", bucket, store.QuoteKey(want[i].Key), d)
			}
			continue
		}
		break // one mismatch of position makes the rest noise
	}
}

func (e *env) compareKeys(bucket string, keys []item, want []store.KeyRecord) {
	e.t.Helper()
	for i := 0; i < len(keys) || i < len(want); i++ {
		switch {
		case i >= len(keys):
			e.t.Errorf("Keys(%q) ended after %d keys; want %d, next %q", bucket, len(keys), len(want), store.QuoteKey(want[i].Key))
		case keys[i].err != nil:
			e.t.Errorf("Keys(%q) element %d: error %v; want none", bucket, i, keys[i].err)
		case i >= len(want):
			e.t.Errorf("Keys(%q) yielded %q after the %d keys wanted", bucket, store.QuoteKey(keys[i].key), len(want))
		case keys[i].key != want[i].Key:
			e.t.Errorf("Keys(%q) element %d: %q; want %q", bucket, i, store.QuoteKey(keys[i].key), store.QuoteKey(want[i].Key))
		default:
			continue
		}
		break
	}
}

// rec returns a record with every field set; lineage follows stamp and
// position version.
func rec(version, stamp uint64, state string) store.Record {
	return store.Record{
		Version:   version,
		Stamp:     stamp,
		Lineage:   stamp + 1000,
		UpdatedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC).Add(time.Duration(version) * time.Second),
		Position:  version*10 + 1,
		State:     []byte(state),
	}
}

// create puts r at bucket/key, which must be absent.
func create(bucket, key string, r store.Record) store.Write {
	return store.Write{Bucket: bucket, Key: key, Record: r}
}

// replace puts r over old at bucket/key.
func replace(bucket, key string, old, r store.Record) store.Write {
	return store.Write{Bucket: bucket, Key: key, Expect: old.Version, ExpectStamp: old.Stamp, Record: r}
}

// remove deletes old at bucket/key.
func remove(bucket, key string, old store.Record) store.Write {
	return store.Write{Bucket: bucket, Key: key, Expect: old.Version, ExpectStamp: old.Stamp, Delete: true}
}

// kr is a store.KeyRecord.
func kr(key string, r store.Record) store.KeyRecord { return store.KeyRecord{Key: key, Record: r} }

// diffRecord describes how got differs from want, or returns "". Times are
// compared as instants, and must be in UTC unless zero.
func diffRecord(got, want store.Record) string {
	var d []string
	if got.Version != want.Version || got.Stamp != want.Stamp {
		d = append(d, fmt.Sprintf("version %d stamp %d; want version %d stamp %d", got.Version, got.Stamp, want.Version, want.Stamp))
	}
	if got.Lineage != want.Lineage {
		d = append(d, fmt.Sprintf("lineage %d; want %d", got.Lineage, want.Lineage))
	}
	if got.Position != want.Position {
		d = append(d, fmt.Sprintf("position %d; want %d", got.Position, want.Position))
	}
	switch {
	case want.UpdatedAt.IsZero() && !got.UpdatedAt.IsZero():
		d = append(d, fmt.Sprintf("UpdatedAt %v; want the zero time", got.UpdatedAt))
	case !got.UpdatedAt.Equal(want.UpdatedAt):
		d = append(d, fmt.Sprintf("UpdatedAt %v; want %v", got.UpdatedAt, want.UpdatedAt))
	case !got.UpdatedAt.IsZero() && got.UpdatedAt.Location() != time.UTC:
		d = append(d, fmt.Sprintf("UpdatedAt %v in %v; want UTC", got.UpdatedAt, got.UpdatedAt.Location()))
	}
	if !bytes.Equal(got.State, want.State) {
		d = append(d, fmt.Sprintf("state %q; want %q", shorten(got.State), shorten(want.State)))
	}
	return strings.Join(d, ", ")
}

func shorten(b []byte) string { return store.QuoteKey(string(b)) }

// describe names a request in messages.
func describe(writes []store.Write) string {
	if len(writes) == 0 {
		return "an empty request"
	}
	var parts []string
	for i, w := range writes {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(writes)-i))
			break
		}
		op := fmt.Sprintf("put v%d", w.Record.Version)
		if w.Delete {
			op = "delete"
		}
		force := ""
		if w.Force {
			force = " force"
		}
		parts = append(parts, fmt.Sprintf("%s %q/%q expect %d.%d%s", op, store.QuoteKey(w.Bucket), store.QuoteKey(w.Key), w.Expect, w.ExpectStamp, force))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// sortKeyRecords sorts krs in key order.
func sortKeyRecords(krs []store.KeyRecord) {
	slices.SortFunc(krs, func(a, b store.KeyRecord) int { return strings.Compare(a.Key, b.Key) })
}
