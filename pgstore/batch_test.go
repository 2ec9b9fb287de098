package pgstore_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/livefold/livefold/store"
)

// heldStore returns a Store on a new table whose committer is held on a
// first request until release is called, so that requests submitted
// meanwhile commit as one batch; held is that first request's outcome.
func heldStore(t *testing.T) (s store.Store, held <-chan error, release func()) {
	t.Helper()
	s, p, v1 := faultStore(t)
	entered, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { closeOnce(done) })
	marker := []byte("held request")
	var once sync.Once
	p.setHook(func(m *message) action {
		if m.fromClient && m.typ == 'B' && bytes.Contains(m.body, marker) {
			once.Do(func() {
				close(entered)
				<-done
			})
		}
		return forward
	})
	held = submit(t, s, replace("b", "k", v1, rec(2, 2, string(marker))))
	<-entered
	return s, held, func() { closeOnce(done) }
}

// Ensure that a batch of requests that each replace what the one before
// wrote (a hot key) commits every request, leaving the last record, and
// that a request of such a batch that fails its check against the database
// fails alone: the one after it, which expects the key absent as the
// failed delete would have left it, succeeds against the key as it is.
func TestStore_Submit_ChainedRequestsInOneBatch(t *testing.T) {
	s, held, release := heldStore(t)
	var chs []<-chan error
	prev := store.Record{}
	for v := uint64(1); v <= 5; v++ {
		next := rec(v, v, "hot")
		w := create("b", "hot", next)
		if v > 1 {
			w = replace("b", "hot", prev, next)
		}
		chs = append(chs, submit(t, s, w))
		prev = next
	}
	gone := rec(9, 9, "never stored")
	fails := submit(t, s, store.Write{Bucket: "b", Key: "x", Expect: gone.Version, ExpectStamp: gone.Stamp, Delete: true})
	x := rec(1, 1, "x")
	creates := submit(t, s, create("b", "x", x))
	release()
	if err := outcome(t, held); err != nil {
		t.Fatalf("outcome of the held request = %v", err)
	}
	for i, ch := range chs {
		if err := outcome(t, ch); err != nil {
			t.Errorf("outcome of hot key version %d = %v; want nil", i+1, err)
		}
	}
	if err := outcome(t, fails); !errors.Is(err, store.ErrConflict) {
		t.Errorf("outcome of a delete of an absent key expecting version 9 = %v; want a conflict", err)
	}
	if err := outcome(t, creates); err != nil {
		t.Errorf("outcome of the create after the failed delete = %v; want nil", err)
	}
	expectRecord(t, s, "b", "hot", prev)
	expectRecord(t, s, "b", "x", x)
}
