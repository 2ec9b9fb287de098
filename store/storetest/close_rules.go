package storetest

import (
	"errors"
	"fmt"
	"sync"

	"github.com/livefold/livefold/store"
)

func closeRules() []rule {
	return []rule{
		{name: "DrainsAccepted", run: testCloseDrainsAccepted,
			text: "Close returns after every request accepted before it committed and its done ran"},
		{name: "KeepsAccepted", run: testCloseKeepsAccepted, needs: needReopen,
			text: "every request accepted before Close is stored: a store reopened on the data reads it"},
		{name: "RacingSubmitters", run: testCloseRacingSubmitters,
			text: "a Submit racing Close is either accepted, and then commits and reports before Close returns, or refused with store.ErrClosed"},
		{name: "CallsAfterClose", run: testCloseCallsAfterClose,
			text: "after Close, Closed is true, every call returns an error wrapping store.ErrClosed, Submit never calls done, and a second Close returns nil"},
	}
}

// submitMany submits n chained writes per key to bucket "b" without waiting,
// and returns their calls and the final records.
func (e *env) submitMany(s store.Store, keys, n int) ([]*call, []store.KeyRecord) {
	e.t.Helper()
	var calls []*call
	final := make([]store.KeyRecord, keys)
	for i := range keys {
		final[i].Key = fmt.Sprintf("k%02d", i)
	}
	for j := range n {
		for i := range final {
			next := rec(uint64(j+1), uint64(i*1000+j), fmt.Sprintf("%d/%d", i, j))
			calls = append(calls, e.submit(s, replace("b", final[i].Key, final[i].Record, next)))
			final[i].Record = next
		}
	}
	return calls, final
}

// expectReported fails the rule unless every call reported nil already.
func (e *env) expectReported(calls []*call, when string) {
	e.t.Helper()
	for _, c := range calls {
		if c.n.Load() == 0 {
			e.t.Errorf("done of %s not called %s", c.what, when)
			continue
		}
		if err := e.wait(c); err != nil {
			e.t.Errorf("outcome of %s = %v; want nil", c.what, err)
		}
	}
}

func testCloseDrainsAccepted(e *env) {
	s := e.open()
	calls, _ := e.submitMany(s, 10, 10)
	if err := s.Close(); err != nil {
		e.t.Fatalf("Close = %v; want nil", err)
	}
	e.expectReported(calls, "when Close returned")
}

func testCloseKeepsAccepted(e *env) {
	s := e.open()
	calls, final := e.submitMany(s, 10, 10)
	s = e.reopen(s)
	e.expectReported(calls, "when Close returned")
	if s.Closed() {
		e.t.Error("Closed() = true on a reopened store; want false")
	}
	for _, f := range final {
		e.expectRecord(s, "b", f.Key, f.Record)
	}
	e.expectScan(s, "b", final...)
}

func testCloseRacingSubmitters(e *env) {
	s := e.open()
	const submitters = 4
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards accepted and bad
		accepted []*call
		bad      []error
		started  = make(chan struct{}, submitters)
	)
	for g := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				w := create("b", fmt.Sprintf("g%d-%05d", g, j), rec(1, uint64(j), "racing"))
				c, err := e.trySubmit(s, w)
				if j == 10 {
					started <- struct{}{}
				}
				if err != nil {
					mu.Lock()
					if !errors.Is(err, store.ErrClosed) {
						bad = append(bad, fmt.Errorf("Submit(%s) racing Close = %w; want nil or store.ErrClosed", c.what, err))
					}
					mu.Unlock()
					if j < 10 {
						started <- struct{}{}
					}
					return
				}
				mu.Lock()
				accepted = append(accepted, c)
				mu.Unlock()
			}
		}()
	}
	for range submitters {
		<-started
	}
	if err := s.Close(); err != nil {
		e.t.Errorf("Close = %v; want nil", err)
	}
	// Every Submit after Close returned is refused, so the submitters end.
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, err := range bad {
		e.t.Error(err)
	}
	e.expectReported(accepted, "when Close returned")
}

func testCloseCallsAfterClose(e *env) {
	s := e.open()
	r := rec(1, 1, "x")
	e.commit(s, create("b", "k", r))
	if s.Closed() {
		e.t.Error("Closed() = true before Close; want false")
	}
	scan, keys := e.supports(s)
	if err := s.Close(); err != nil {
		e.t.Fatalf("Close = %v; want nil", err)
	}
	if !s.Closed() {
		e.t.Error("Closed() = false after Close; want true")
	}
	closed := func(what string, err error) {
		e.t.Helper()
		if !errors.Is(err, store.ErrClosed) {
			e.t.Errorf("%s after Close = %v; want an error wrapping store.ErrClosed", what, err)
		}
	}
	_, _, err := s.Get(e.ctx, "b", "k")
	closed("Get", err)
	for _, writes := range [][]store.Write{{create("b", "new", r)}, nil} {
		c, err := e.trySubmit(s, writes...)
		closed(fmt.Sprintf("Submit(%s)", c.what), err)
	}
	for _, walk := range []struct {
		name      string
		supported bool
		items     []item
	}{{"Scan", scan, e.scan(s, "b")}, {"Keys", keys, e.keys(s, "b")}} {
		its := walk.items
		if !walk.supported {
			continue
		}
		if len(its) != 1 {
			e.t.Errorf("%s after Close yielded %d elements; want one, with store.ErrClosed", walk.name, len(its))
			continue
		}
		closed(walk.name, its[0].err)
	}
	if err := s.Close(); err != nil {
		e.t.Errorf("second Close = %v; want nil", err)
	}
	if !s.Closed() {
		e.t.Error("Closed() = false after a second Close; want true")
	}
}
