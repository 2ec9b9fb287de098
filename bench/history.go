package main

import (
	"context"
	"fmt"
	"iter"
)

// history is what the rebuildall workload replays: rounds events of each of
// keys keys. Every round visits every key once, in the same scrambled order,
// so each key's events are exactly keys events apart: no bounded set of
// states smaller than the key space holds a key from one of its events to
// the next, the hard case for a rebuild that keeps a bounded set in memory.
type history struct {
	keys, rounds int
	stride       int // coprime with keys: position j of a round is key j*stride mod keys
}

// newHistory returns a history of events events over keys keys; events is
// a multiple of keys.
func newHistory(events, keys int) history {
	// Any stride coprime with keys visits every key once per round; one far
	// from 1 scatters consecutive events over the key space.
	stride := 2654435761 % keys
	for keys > 1 && (stride < 2 || gcd(stride, keys) != 1) {
		stride = (stride + 1) % keys
	}
	return history{keys: keys, rounds: events / keys, stride: max(stride, 1)}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// events returns the number of events in the history.
func (hs history) events() int { return hs.keys * hs.rounds }

// amount is the amount of key k's event of round r.
func (hs history) amount(k, r int) int64 { return int64(1 + (k+r)%9) }

// sum returns what key k's events add up to.
func (hs history) sum(k int) int64 {
	var s int64
	for r := range hs.rounds {
		s += hs.amount(k, r)
	}
	return s
}

// interleaved yields the history in order, round after round.
func (hs history) interleaved() iter.Seq[event] {
	return func(yield func(event) bool) {
		for r := range hs.rounds {
			for j := range hs.keys {
				k := j * hs.stride % hs.keys
				if !yield(event{Key: keyName(k), Amount: hs.amount(k, r)}) {
					return
				}
			}
		}
	}
}

// ofKey yields key k's events in order: the history grouped by key.
func (hs history) ofKey(k int) iter.Seq[event] {
	return func(yield func(event) bool) {
		key := keyName(k)
		for r := range hs.rounds {
			if !yield(event{Key: key, Amount: hs.amount(k, r)}) {
				return
			}
		}
	}
}

// grouped yields the history grouped by key, key after key.
func (hs history) grouped() iter.Seq[event] {
	return func(yield func(event) bool) {
		for k := range hs.keys {
			for e := range hs.ofKey(k) {
				if !yield(e) {
					return
				}
			}
		}
	}
}

// batches yields events in slices of n consecutive events, reusing one
// slice: it is valid until the next iteration.
func batches(events iter.Seq[event], n int) iter.Seq[[]event] {
	return func(yield func([]event) bool) {
		batch := make([]event, 0, n)
		for e := range events {
			batch = append(batch, e)
			if len(batch) == n {
				if !yield(batch) {
					return
				}
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			yield(batch)
		}
	}
}

// staleKey is a key outside the history.
func (hs history) staleKey() string { return keyName(hs.keys) }

// check reads key 0, the last key and a sample spread over the key space
// through sys and compares each with the history: sum, event count and
// version. With staleGone, the key outside the history must not exist.
func (hs history) check(ctx context.Context, sys system, staleGone bool) error {
	var errs []error
	step := max(1, hs.keys/memSample)
	for k := 0; k < hs.keys; k += step {
		errs = append(errs, hs.checkKey(ctx, sys, k))
	}
	errs = append(errs, hs.checkKey(ctx, sys, hs.keys-1))
	if staleGone {
		if _, v, ok, err := sys.read(ctx, hs.staleKey()); err != nil || ok {
			errs = append(errs, fmt.Errorf("key %s is not in the history but exists (version %d, err %v)", hs.staleKey(), v, err))
		}
	}
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	return firstErrors(failed)
}

func (hs history) checkKey(ctx context.Context, sys system, k int) error {
	st, version, ok, err := sys.read(ctx, keyName(k))
	n, sum := uint64(hs.rounds), hs.sum(k)
	switch {
	case err != nil:
		return fmt.Errorf("read %s: %w", keyName(k), err)
	case !ok:
		return fmt.Errorf("key %s: no snapshot after %d events", keyName(k), n)
	case version != n || st.Count != n || st.Sum != sum:
		return fmt.Errorf("key %s: version %d, count %d, sum %d; want %d, %d, %d",
			keyName(k), version, st.Count, st.Sum, n, n, sum)
	}
	return nil
}
