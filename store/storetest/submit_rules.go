package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/livefold/livefold/store"
)

func submitRules() []rule {
	return []rule{
		{name: "DoneOnceInOrder", run: testDoneOnceInOrder,
			text: "done is called exactly once per accepted Submit, in submission order, and when it is called every earlier request has reported"},
		{name: "OrderPerSubmitter", run: testOrderPerSubmitter,
			text: "with concurrent submitters, each one's requests are applied and reported in the order its Submits returned"},
		{name: "NilDone", run: testNilDone,
			text: "Submit accepts a nil done and still applies the request"},
		{name: "PanickingDone", run: testPanickingDone,
			text: "a panicking done is recovered: the store keeps applying and reporting requests"},
		{name: "EmptyIsBarrier", run: testEmptyIsBarrier,
			text: "an empty request writes nothing and its done runs after every earlier request's done"},
		{name: "CancelledContext", run: testSubmitCancelledContext,
			text: "Submit with a cancelled ctx either refuses the request with ctx's error (done never called) or accepts it (done called once)"},
	}
}

func testDoneOnceInOrder(e *env) {
	s := e.open()
	// Every kind of outcome, on ten keys, each key cycling through create,
	// replace, a conflict, delete and an empty request.
	const keys, steps = 10, 10
	var (
		mu    sync.Mutex // guards order and early
		order []int
		early []string
	)
	type sent struct {
		c        *call
		conflict bool
	}
	var all []sent
	for i := range keys * steps {
		key := fmt.Sprintf("k%d", i%keys)
		cycle := uint64(i / keys / 5)
		v1, v2 := rec(1, 2*cycle+1, "one"), rec(2, 2*cycle+2, "two")
		var writes []store.Write
		switch (i / keys) % 5 {
		case 0:
			writes = []store.Write{create("b", key, v1)}
		case 1:
			writes = []store.Write{replace("b", key, v1, v2)}
		case 2:
			writes = []store.Write{replace("b", key, rec(7, 7, ""), rec(8, 8, "conflict"))}
		case 3:
			writes = []store.Write{remove("b", key, v2)}
		}
		c, err := e.trySubmitThen(s, func(error) {
			mu.Lock()
			defer mu.Unlock()
			if len(order) != i {
				early = append(early, fmt.Sprintf("request %d reported after %d earlier requests; want %d", i, len(order), i))
			}
			order = append(order, i)
		}, writes...)
		if err != nil {
			e.t.Fatalf("Submit(%s) = %v; want nil", c.what, err)
		}
		all = append(all, sent{c, (i/keys)%5 == 2})
	}
	for i, sn := range all {
		err := e.wait(sn.c)
		switch {
		case sn.conflict && !errors.Is(err, store.ErrConflict):
			e.t.Errorf("request %d %s: outcome %v; want a conflict", i, sn.c.what, err)
		case !sn.conflict && err != nil:
			e.t.Errorf("request %d %s: outcome %v; want nil", i, sn.c.what, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, msg := range early {
		e.t.Error(msg)
	}
	for i, got := range order {
		if got != i {
			e.t.Fatalf("done calls in order %v; want submission order", order)
		}
	}
}

func testOrderPerSubmitter(e *env) {
	s := e.open()
	// Each submitter chains versions of its own key without waiting, so
	// every request succeeds only if the store applies them in the order
	// the submitter's Submits returned.
	const submitters, requests = 4, 40
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards seen and bad
		seen  [submitters]int
		bad   []string
		calls [submitters][]*call
		errs  [submitters]error
	)
	for g := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("submitter%d", g)
			prev := store.Record{}
			for j := range requests {
				next := rec(uint64(j+1), uint64(g*1000+j), fmt.Sprintf("%d/%d", g, j))
				c, err := e.trySubmitThen(s, func(error) {
					mu.Lock()
					defer mu.Unlock()
					if seen[g] != j {
						bad = append(bad, fmt.Sprintf("submitter %d: request %d reported after %d of its earlier requests; want %d", g, j, seen[g], j))
					}
					seen[g]++
				}, replace("b", key, prev, next))
				if err != nil {
					errs[g] = fmt.Errorf("Submit(%s) = %w; want nil", c.what, err)
					return
				}
				calls[g] = append(calls[g], c)
				prev = next
			}
		}()
	}
	wg.Wait()
	for g := range submitters {
		if errs[g] != nil {
			e.t.Fatal(errs[g])
		}
		for _, c := range calls[g] {
			if err := e.wait(c); err != nil {
				e.t.Errorf("submitter %d: outcome of %s = %v; want nil", g, c.what, err)
			}
		}
	}
	mu.Lock()
	for _, msg := range bad {
		e.t.Error(msg)
	}
	mu.Unlock()
	e.barrier(s)
	for g := range submitters {
		e.expectRecord(s, "b", fmt.Sprintf("submitter%d", g), rec(requests, uint64(g*1000+requests-1), fmt.Sprintf("%d/%d", g, requests-1)))
	}
}

func testNilDone(e *env) {
	s := e.open()
	r := rec(1, 1, "x")
	if err := s.Submit(e.ctx, []store.Write{create("b", "k", r)}, nil); err != nil {
		e.t.Fatalf("Submit(nil done) = %v; want nil", err)
	}
	// Two empty requests: once the second reports, the first's done has
	// returned, and it started after the write was applied.
	if err := e.outcome(s); err != nil {
		e.t.Fatalf("outcome of an empty request = %v; want nil", err)
	}
	e.expectRecord(s, "b", "k", r)
}

func testPanickingDone(e *env) {
	s := e.open()
	a, b := rec(1, 1, "a"), rec(1, 2, "b")
	c, err := e.trySubmitThen(s, func(error) { panic("storetest: a done callback panics") }, create("b", "a", a))
	if err != nil {
		e.t.Fatalf("Submit(%s) = %v; want nil", c.what, err)
	}
	if err := e.wait(c); err != nil {
		e.t.Fatalf("outcome of %s = %v; want nil", c.what, err)
	}
	e.commit(s, create("b", "b", b))
	e.expectRecord(s, "b", "a", a)
	e.expectRecord(s, "b", "b", b)
}

func testEmptyIsBarrier(e *env) {
	s := e.open()
	for round, empty := range [][]store.Write{nil, {}} {
		var earlier []*call
		for i := range 30 {
			earlier = append(earlier, e.submit(s, create("b", fmt.Sprintf("%d-%d", round, i), rec(1, 1, "x"))))
		}
		var missing []string // written by the barrier's done, read after it
		barrier, err := e.trySubmitThen(s, func(error) {
			for _, c := range earlier {
				if c.n.Load() == 0 {
					missing = append(missing, c.what)
				}
			}
		}, empty...)
		if err != nil {
			e.t.Fatalf("Submit(%#v) = %v; want nil", empty, err)
		}
		if err := e.wait(barrier); err != nil {
			e.t.Fatalf("outcome of an empty request (%#v) = %v; want nil", empty, err)
		}
		for _, what := range missing {
			e.t.Errorf("an empty request (%#v) reported before the earlier %s", empty, what)
		}
		for _, c := range earlier {
			if err := e.wait(c); err != nil {
				e.t.Errorf("outcome of %s = %v; want nil", c.what, err)
			}
		}
	}
}

func testSubmitCancelledContext(e *env) {
	s := e.open()
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	r := rec(1, 1, "x")
	c := e.newCall("a request submitted with a cancelled ctx")
	err := s.Submit(ctx, []store.Write{create("b", "k", r)}, c.done)
	c.accepted.Store(err == nil)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			e.t.Errorf("Submit(cancelled ctx) = %v; want nil or an error wrapping context.Canceled", err)
		}
		e.barrier(s)
		e.expectAbsent(s, "b", "k")
		return
	}
	if err := e.wait(c); err != nil {
		e.t.Fatalf("outcome of a request accepted with a cancelled ctx = %v; want nil", err)
	}
	e.barrier(s)
	e.expectRecord(s, "b", "k", r)
}
