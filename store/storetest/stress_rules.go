package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livefold/livefold/store"
)

func stressRules() []rule {
	return []rule{
		{name: "Model", run: testStressModel,
			text: "under concurrent submitters, every outcome is what applying the requests in reporting order to a model gives, and the store ends equal to the model"},
		{name: "SecondWriter", run: testStressSecondWriter, needs: needSecond,
			text: "two writers of the same data doing read-modify-write with Expect, retrying on conflicts, lose no update"},
	}
}

// model is the contents a store must have, built from the outcomes its done
// callbacks report, which arrive one at a time in commit order.
type model struct {
	mu      sync.Mutex // guards records and faults
	records map[[2]string]store.Record
	faults  []string
}

// report checks one outcome against the model and applies the request if
// it committed.
func (m *model) report(writes []store.Write, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var want error
	for i := range writes {
		w := &writes[i]
		cur, found := m.records[[2]string{w.Bucket, w.Key}]
		if cerr := store.CheckExpect(w, found, cur.Version, cur.Stamp); cerr != nil {
			want = cerr
			break
		}
	}
	var got *store.ConflictError
	switch {
	case want == nil && err != nil:
		m.faults = append(m.faults, fmt.Sprintf("%s: outcome %v; want nil by the model", describe(writes), err))
		return
	case want == nil:
		for _, w := range writes {
			if w.Delete {
				delete(m.records, [2]string{w.Bucket, w.Key})
			} else {
				m.records[[2]string{w.Bucket, w.Key}] = w.Record
			}
		}
	case !errors.As(err, &got) || !errors.Is(err, store.ErrConflict):
		m.faults = append(m.faults, fmt.Sprintf("%s: outcome %v; want %v by the model", describe(writes), err, want))
	case *got != *want.(*store.ConflictError):
		m.faults = append(m.faults, fmt.Sprintf("%s: outcome %+v; want %+v by the model", describe(writes), *got, *want.(*store.ConflictError)))
	}
}

func testStressModel(e *env) {
	s := e.open()
	m := &model{records: map[[2]string]store.Record{}}
	places := [][2]string{{"m", "a"}, {"m", "b"}, {"m", "c"}, {"m", "d"}, {"m", "e"}, {"m", "f"}, {"n", "a"}, {"n", "z"}}
	const submitters, ops = 4, 150
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex // guards calls and faults
		calls  []*call
		faults []string
	)
	fault := func(format string, args ...any) {
		mu.Lock()
		faults = append(faults, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for g := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for op := range ops {
				var writes []store.Write
				for _, i := range rng.Perm(len(places))[:1+rng.IntN(2)] {
					p := places[i]
					cur, found, err := s.Get(e.ctx, p[0], p[1])
					if err != nil {
						fault("Get(%q, %q) = %v; want nil", p[0], p[1], err)
						return
					}
					if !found {
						cur = store.Record{}
					}
					w := store.Write{Bucket: p[0], Key: p[1], Expect: cur.Version, ExpectStamp: cur.Stamp}
					w.Record = store.Record{
						Version:   cur.Version + 1,
						Stamp:     rng.Uint64(),
						Lineage:   rng.Uint64(),
						UpdatedAt: time.Unix(1700000000+int64(g), int64(op)).UTC(),
						Position:  uint64(op),
						State:     []byte(fmt.Sprintf("g%d op%d", g, op)),
					}
					switch r := rng.IntN(20); {
					case r < 3:
						w.Delete = true
					case r < 6:
						w.Expect += 1 + uint64(rng.IntN(3)) // a deliberate conflict
					case r < 7:
						w.ExpectStamp++ // a deliberate conflict on the stamp
					case r < 8:
						w.Force, w.Expect = true, 99
					case r < 9:
						w.Force, w.Delete = true, true
					}
					writes = append(writes, w)
				}
				c, err := e.trySubmitThen(s, func(err error) { m.report(writes, err) }, writes...)
				if err != nil {
					fault("Submit(%s) = %v; want nil", c.what, err)
					return
				}
				mu.Lock()
				calls = append(calls, c)
				mu.Unlock()
				if rng.IntN(2) == 0 {
					// Wait sometimes, so that reads see fresh records and
					// batches vary in size.
					select {
					case err := <-c.outcome:
						c.outcome <- err
					case <-time.After(waitTimeout):
						fault("done of %s was not called within %v", c.what, waitTimeout)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range faults {
		e.t.Error(f)
	}
	for _, c := range calls {
		e.wait(c)
	}
	e.barrier(s)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.faults {
		e.t.Error(f)
	}
	for _, bucket := range []string{"m", "n"} {
		var want []store.KeyRecord
		for _, p := range places {
			if r, ok := m.records[p]; ok && p[0] == bucket {
				want = append(want, kr(p[1], r))
				e.expectRecord(s, bucket, p[1], r)
			} else if p[0] == bucket {
				e.expectAbsent(s, bucket, p[1])
			}
		}
		sortKeyRecords(want)
		e.expectScan(s, bucket, want...)
	}
}

func testStressSecondWriter(e *env) {
	first := e.open()
	handles := []store.Store{first, e.second(first)}
	keys := []string{"c0", "c1", "c2"}
	const perHandle, increments, maxAttempts = 3, 30, 10000
	var (
		wg     sync.WaitGroup
		done   [3]atomic.Int64 // successful increments per key
		mu     sync.Mutex      // guards faults
		faults []string
	)
	fault := func(format string, args ...any) {
		mu.Lock()
		faults = append(faults, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	// increment adds one to key's counter through s, reading it again after
	// every conflict, and reports whether it did.
	increment := func(s store.Store, key string) bool {
		for range maxAttempts {
			cur, found, err := s.Get(e.ctx, "counters", key)
			if err != nil {
				fault("Get(counters, %q) = %v; want nil", key, err)
				return false
			}
			n := 0
			if found {
				if n, err = strconv.Atoi(string(cur.State)); err != nil {
					fault("counter %q holds %q, not a number", key, cur.State)
					return false
				}
			} else {
				cur = store.Record{}
			}
			next := store.Record{Version: cur.Version + 1, Stamp: cur.Stamp + 1, State: []byte(strconv.Itoa(n + 1))}
			outcome := make(chan error, 1)
			if err := s.Submit(e.ctx, []store.Write{replace("counters", key, cur, next)}, func(err error) { outcome <- err }); err != nil {
				fault("Submit = %v; want nil", err)
				return false
			}
			select {
			case err = <-outcome:
			case <-time.After(waitTimeout):
				fault("done was not called within %v", waitTimeout)
				return false
			}
			switch {
			case err == nil:
				return true
			case !errors.Is(err, store.ErrConflict):
				fault("increment of %q: outcome %v; want nil or a conflict", key, err)
				return false
			}
		}
		fault("increment of %q: still conflicting after %d attempts", key, maxAttempts)
		return false
	}
	for h, s := range handles {
		for g := range perHandle {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range increments {
					k := (h + g + i) % len(keys)
					if !increment(s, keys[k]) {
						return
					}
					done[k].Add(1)
				}
			}()
		}
	}
	wg.Wait()
	for _, f := range faults {
		e.t.Error(f)
	}
	for _, s := range handles {
		e.barrier(s)
	}
	total := int64(0)
	for k, key := range keys {
		n := done[k].Load()
		total += n
		for h, s := range handles {
			r, ok := e.get(s, "counters", key)
			if got := string(r.State); !ok || got != strconv.FormatInt(n, 10) || r.Version != uint64(n) {
				e.t.Errorf("handle %d: counter %q = %q at version %d (found %v); want %d at version %d, the successful increments", h, key, got, r.Version, ok, n, n)
			}
		}
	}
	if want := int64(len(handles) * perHandle * increments); total != want && len(faults) == 0 {
		e.t.Errorf("%d increments succeeded; want %d", total, want)
	}
}
