package pgstore

import (
	"slices"
	"testing"

	"github.com/livefold/livefold/store"
)

// testBatch returns a batch of one request per element of reqs.
func testBatch(reqs ...[]store.Write) (*batch, []int) {
	s := &Store{}
	b := &batch{}
	var pending []int
	for i, w := range reqs {
		b.reqs = append(b.reqs, &request{writes: w, cols: s.writeCols(w)})
		pending = append(pending, i)
	}
	return b, pending
}

func put(key string, expect, version uint64) store.Write {
	return store.Write{Bucket: "b", Key: key, Expect: expect, ExpectStamp: expect, Record: store.Record{Version: version, Stamp: version}}
}

// Ensure that requests on distinct keys share one statement, that a request
// goes after every earlier one writing its keys, and that each statement
// numbers its requests' writes from 1.
func TestPlan_Separate(t *testing.T) {
	b, pending := testBatch(
		[]store.Write{put("a", 0, 1), put("b", 0, 1)},
		[]store.Write{put("c", 0, 1)},
		[]store.Write{put("a", 1, 2)},
		[]store.Write{put("d", 0, 1), put("a", 2, 3)},
		[]store.Write{put("e", 0, 1)},
	)
	got := plan(b, pending, separate)
	want := [][]int{{0, 1, 4}, {2}, {3}}
	if len(got) != len(want) {
		t.Fatalf("plan made %d statements; want %d: %+v", len(got), len(want), got)
	}
	for n, st := range got {
		if !slices.Equal(st.reqs, want[n]) || st.merged != nil {
			t.Errorf("statement %d holds requests %v (merged %v); want %v", n, st.reqs, st.merged != nil, want[n])
		}
	}
	if !slices.Equal(got[0].starts, []int{1, 3, 4}) || got[0].writes != 4 {
		t.Errorf("statement 0 starts %v with %d writes; want [1 3 4] and 4", got[0].starts, got[0].writes)
	}
	for n, st := range plan(b, pending, single) {
		if !slices.Equal(st.reqs, []int{n}) {
			t.Errorf("single statement %d holds %v", n, st.reqs)
		}
	}
}

// Ensure that merged mode writes a hot key's chain of requests as one row,
// checked against the chain's first Expect and holding its last record,
// and a delete followed by a create as that create; and that a chain
// broken by an Expect that does not follow is planned separate.
func TestPlan_Merged(t *testing.T) {
	del := store.Write{Bucket: "b", Key: "x", Expect: 7, ExpectStamp: 7, Delete: true}
	b, pending := testBatch(
		[]store.Write{put("hot", 4, 5)},
		[]store.Write{put("hot", 5, 6), del},
		[]store.Write{put("hot", 6, 7), put("x", 0, 1)},
	)
	got := plan(b, pending, merged)
	if len(got) != 1 || got[0].merged == nil || !slices.Equal(got[0].reqs, []int{0, 1, 2}) {
		t.Fatalf("plan = %+v; want one merged statement of every request", got)
	}
	m := got[0].merged
	if !slices.Equal(m.keys, []string{"hot", "x"}) || !slices.Equal(m.expects, []int64{4, 7}) ||
		!slices.Equal(m.versions, []int64{7, 1}) || !slices.Equal(m.del, []bool{false, false}) {
		t.Errorf("merged keys %v expects %v versions %v deletes %v; want [hot x] [4 7] [7 1] [false false]",
			m.keys, m.expects, m.versions, m.del)
	}

	b, pending = testBatch(
		[]store.Write{put("hot", 4, 5)},
		[]store.Write{put("hot", 4, 5)}, // expects what the first replaces: it conflicts
	)
	if got := plan(b, pending, merged); len(got) != 2 || got[0].merged != nil {
		t.Errorf("plan of a broken chain = %+v; want two separate statements", got)
	}
}
