package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// projectionName names the projection in every system: the bbolt bucket, the
// SQLite projection_name column and livefold's channel prefix.
const projectionName = "bench.accounts"

// event adds Amount to the account Key.
type event struct {
	Key    string
	Amount int64
}

// account is the state every system folds. Pad brings the encoded state to
// the size a workload asks for (about 100 bytes or 10 KB); a string keeps the
// type free of references, so livefold copies it as a plain value, as a
// well-designed read model would.
type account struct {
	Sum   int64  `json:"sum" msgpack:"sum"`
	Count uint64 `json:"count" msgpack:"count"`
	Pad   string `json:"pad" msgpack:"pad"`
}

// folder is the fold shared by every system, so they do the same work per
// event.
type folder struct {
	pad string
}

// newFolder returns a folder whose states encode to about stateBytes bytes.
func newFolder(stateBytes int) folder {
	// About 36 bytes of JSON or msgpack go to field names and numbers.
	return folder{pad: strings.Repeat("x", max(0, stateBytes-36))}
}

func (f folder) fold(s *account, e event) int64 {
	s.Sum += e.Amount
	s.Count++
	if len(s.Pad) != len(f.pad) {
		s.Pad = f.pad
	}
	return e.Amount
}

// keyName returns the name of key number i.
func keyName(i int) string { return "k" + strconv.Itoa(i) }

// keyNames returns the names of keys 0..n-1.
func keyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = keyName(i)
	}
	return out
}

// tally records what was acknowledged per key, to check the stores against.
// Producers update it only after their apply returned without error.
type tally struct {
	sums   []atomic.Int64
	counts []atomic.Uint64
}

func newTally(keys int) *tally {
	return &tally{sums: make([]atomic.Int64, keys), counts: make([]atomic.Uint64, keys)}
}

func (t *tally) add(key int, amount int64) {
	t.sums[key].Add(amount)
	t.counts[key].Add(1)
}

// total returns the number of events and the sum of their amounts.
func (t *tally) total() (events uint64, sum int64) {
	for i := range t.counts {
		events += t.counts[i].Load()
		sum += t.sums[i].Load()
	}
	return events, sum
}

// expect compares one key's stored snapshot with the tally.
func (t *tally) expect(key int, s account, version uint64, ok bool) error {
	n, sum := t.counts[key].Load(), t.sums[key].Load()
	switch {
	case n == 0 && ok:
		return fmt.Errorf("key %s: snapshot exists (version %d) but no event was acknowledged", keyName(key), version)
	case n == 0:
		return nil
	case !ok:
		return fmt.Errorf("key %s: no snapshot after %d acknowledged events", keyName(key), n)
	case version != n || s.Count != n || s.Sum != sum:
		return fmt.Errorf("key %s: version %d, count %d, sum %d; want %d, %d, %d",
			keyName(key), version, s.Count, s.Sum, n, n, sum)
	}
	return nil
}
