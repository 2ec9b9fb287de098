package storetest_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"
	"github.com/livefold/livefold/store/storetest"
)

// openFaulty returns a Faulty around a fresh boltstore, closed when the test
// ends.
func openFaulty(t *testing.T) *storetest.Faulty {
	t.Helper()
	f := boltHarness(func(s store.Store) store.Store { return storetest.NewFaulty(s) }).Open(t).(*storetest.Faulty)
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return f
}

func record(version uint64, state string) store.Record {
	return store.Record{Version: version, Stamp: version, State: []byte(state)}
}

func create(key string, r store.Record) store.Write {
	return store.Write{Bucket: "b", Key: key, Record: r}
}

// outcomes records done callbacks in the order the store calls them.
type outcomes struct {
	mu    sync.Mutex // guards order and errs
	order []string
	errs  map[string]error
	wg    sync.WaitGroup
}

func newOutcomes() *outcomes { return &outcomes{errs: map[string]error{}} }

// submit submits writes to s as the request named name.
func (o *outcomes) submit(t *testing.T, s store.Store, name string, writes ...store.Write) {
	t.Helper()
	o.wg.Add(1)
	err := s.Submit(context.Background(), writes, func(err error) {
		o.mu.Lock()
		o.order = append(o.order, name)
		o.errs[name] = err
		o.mu.Unlock()
		o.wg.Done()
	})
	if err != nil {
		o.wg.Done()
		t.Fatalf("Submit(%s) = %v; want nil", name, err)
	}
}

// wait waits for every submitted request's outcome.
func (o *outcomes) wait(t *testing.T) {
	t.Helper()
	ch := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(ch)
	}()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("done was not called for every request")
	}
}

func (o *outcomes) err(name string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.errs[name]
}

func get(t *testing.T, s store.Store, key string) (store.Record, bool) {
	t.Helper()
	r, ok, err := s.Get(context.Background(), "b", key)
	if err != nil {
		t.Fatalf("Get(%q) = %v", key, err)
	}
	return r, ok
}

// Ensure that FailNext fails the next submissions in commit order with an
// error wrapping store.ErrCommit and ErrInjected, writes nothing of them
// whatever their Expect and Force, and lets later requests commit.
func TestFaulty_FailNext_FailsInCommitOrderWritingNothing(t *testing.T) {
	f := openFaulty(t)
	o := newOutcomes()
	o.submit(t, f, "setup", create("x", record(1, "x")))
	o.wait(t)
	_, release := f.HoldNext()
	o.submit(t, f, "a", create("a", record(1, "a")))
	f.FailNext(2)
	o.submit(t, f, "b", create("b", record(1, "b")), store.Write{Bucket: "b", Key: "x", Force: true, Record: record(9, "forced")})
	o.submit(t, f, "empty")
	o.submit(t, f, "c", create("b", record(1, "c")))
	release()
	o.wait(t)

	if want := []string{"setup", "a", "b", "empty", "c"}; !slices.Equal(o.order, want) {
		t.Errorf("outcomes in order %v; want %v", o.order, want)
	}
	for _, name := range []string{"b", "empty"} {
		if err := o.err(name); !errors.Is(err, store.ErrCommit) || !errors.Is(err, storetest.ErrInjected) {
			t.Errorf("outcome of %s = %v; want an error wrapping store.ErrCommit and ErrInjected", name, err)
		}
	}
	for _, name := range []string{"a", "c"} {
		if err := o.err(name); err != nil {
			t.Errorf("outcome of %s = %v; want nil", name, err)
		}
	}
	if r, _ := get(t, f, "b"); string(r.State) != "c" {
		t.Errorf("b = %q; want c, written by the request after the failed one", r.State)
	}
	if r, _ := get(t, f, "x"); string(r.State) != "x" {
		t.Errorf("x = %q; want x, untouched by the failed forced write", r.State)
	}
}

// Ensure that an armed failure is used up only by a submission the store
// accepts: a refused one is refused for its own reason, and the next
// accepted one fails.
func TestFaulty_FailNext_RefusedSubmitKeepsItArmed(t *testing.T) {
	f := openFaulty(t)
	f.FailNext(1)
	err := f.Submit(context.Background(), []store.Write{create("", record(1, "x"))}, func(error) {
		t.Error("done called for a refused request")
	})
	if !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("Submit(empty key) = %v; want ErrInvalidKey", err)
	}
	o := newOutcomes()
	o.submit(t, f, "failed", create("k", record(1, "x")))
	o.submit(t, f, "next", create("k", record(1, "y")))
	o.wait(t)
	if err := o.err("failed"); !errors.Is(err, storetest.ErrInjected) {
		t.Errorf("outcome of the first accepted request = %v; want ErrInjected", err)
	}
	if err := o.err("next"); err != nil {
		t.Errorf("outcome of the second = %v; want nil", err)
	}
	if r, _ := get(t, f, "k"); string(r.State) != "y" {
		t.Errorf("k = %q; want y", r.State)
	}
}

// Ensure that FailNextWith reports the error it is given, and that arming
// again replaces what was armed, down to nothing with 0.
func TestFaulty_FailNextWith_ReportsItsError(t *testing.T) {
	f := openFaulty(t)
	conflict := &store.ConflictError{Bucket: "b", Key: "k", Expected: 3}
	f.FailNextWith(5, conflict)
	o := newOutcomes()
	o.submit(t, f, "conflict", create("k", record(1, "x")))
	o.wait(t)
	var ce *store.ConflictError
	if err := o.err("conflict"); !errors.As(err, &ce) || ce != conflict {
		t.Errorf("outcome = %v; want the armed *store.ConflictError", err)
	}
	f.FailNext(0)
	o.submit(t, f, "disarmed", create("k", record(1, "x")))
	o.wait(t)
	if err := o.err("disarmed"); err != nil {
		t.Errorf("outcome after FailNext(0) = %v; want nil", err)
	}
}

// Ensure that HoldNext holds the next done callback, and with it every later
// outcome, until released.
func TestFaulty_HoldNext_HoldsLaterOutcomes(t *testing.T) {
	f := openFaulty(t)
	held, release := f.HoldNext()
	defer release()
	o := newOutcomes()
	o.submit(t, f, "held", create("a", record(1, "a")))
	<-held
	o.submit(t, f, "behind", create("b", record(1, "b")))
	o.mu.Lock()
	reported := len(o.order)
	o.mu.Unlock()
	if reported != 0 {
		t.Fatalf("%d outcomes reported while the first callback is held; want 0", reported)
	}
	release()
	release()
	o.wait(t)
	if want := []string{"held", "behind"}; !slices.Equal(o.order, want) {
		t.Errorf("outcomes in order %v; want %v", o.order, want)
	}
}

// Ensure that NotifySubmit sends once per accepted submission and never for
// a refused one.
func TestFaulty_NotifySubmit_OncePerAccepted(t *testing.T) {
	f := openFaulty(t)
	ch := make(chan struct{}, 4)
	f.NotifySubmit(ch)
	o := newOutcomes()
	o.submit(t, f, "one", create("a", record(1, "a")))
	o.submit(t, f, "two")
	if err := f.Submit(context.Background(), []store.Write{create("a", store.Record{})}, nil); !errors.Is(err, store.ErrInvalidRecord) {
		t.Fatalf("Submit(version 0) = %v; want ErrInvalidRecord", err)
	}
	o.wait(t)
	if len(ch) != 2 {
		t.Errorf("%d notifications; want 2", len(ch))
	}
	f.NotifySubmit(nil)
	o.submit(t, f, "three")
	o.wait(t)
	if len(ch) != 2 {
		t.Errorf("%d notifications after NotifySubmit(nil); want still 2", len(ch))
	}
}

// Ensure that closing a Faulty closes the store it wraps.
func TestFaulty_Close_ClosesWrapped(t *testing.T) {
	f := openFaulty(t)
	if err := f.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if !f.Unwrap().Closed() || !f.Closed() {
		t.Errorf("Closed() = %v, wrapped %v; want true, true", f.Closed(), f.Unwrap().Closed())
	}
	f.FailNext(1)
	if err := f.Submit(context.Background(), nil, nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Submit after Close = %v; want ErrClosed", err)
	}
}
