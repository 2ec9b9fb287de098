package multiprocess_test

import "fmt"

// The keys every writer applies to: one hot key, which takes a large share
// of the events, and a few others, each also written by every writer.
const (
	hotKey    = "hot"
	otherKeys = 8
)

func keys() []string {
	ks := []string{hotKey}
	for i := range otherKeys {
		ks = append(ks, fmt.Sprintf("k%d", i))
	}
	return ks
}

// event is event number N of its key's stream. Every writer may deliver any
// event of any key, some more than once: its position makes the runtime
// fold it once.
type event struct {
	Key string
	N   uint64
}

func (e event) StreamPosition() uint64 { return e.N }

// state is the fold of a key's events. Hash depends on every event and its
// order, so a state with a lost, doubled or reordered event differs from
// foldTo(Last).
type state struct {
	Last uint64
	Sum  uint64
	Hash uint64
}

type proj struct{}

func (proj) Name() string       { return "test.multiprocess" }
func (proj) Key(e event) string { return e.Key }
func (proj) Apply(s *state, e event) uint64 {
	s.Last = e.N
	s.Sum += e.N
	s.Hash = (s.Hash ^ e.N) * 1099511628211
	return e.N
}

// foldTo is the state after events 1..v.
func foldTo(v uint64) state {
	var s state
	for n := uint64(1); n <= v; n++ {
		proj{}.Apply(&s, event{N: n})
	}
	return s
}
