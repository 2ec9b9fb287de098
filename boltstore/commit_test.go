package boltstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Ensure that a committed record reads back equal, with its own copy of the
// state.
func TestStore_Commit_RoundTrip(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		s := openStore(t, opts...)
		in := rec(1, "state")
		in.UpdatedAt = time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -7200))
		mustCommit(t, s, put("proj", "key", 0, in))
		in.State[0] = 'S' // the caller owns State again once Commit returned
		got, ok := mustGet(t, s, "proj", "key")
		if !ok {
			t.Fatal("Get: record absent after Commit")
		}
		if got.Version != 1 || got.Position != 10 || string(got.State) != "state" {
			t.Errorf("Get = %+v; want version 1, position 10, state %q", got, "state")
		}
		if !got.UpdatedAt.Equal(in.UpdatedAt) || got.UpdatedAt.Location() != time.UTC {
			t.Errorf("UpdatedAt = %v; want %v in UTC", got.UpdatedAt, in.UpdatedAt)
		}
		got.State[0] = 'X'
		again, _ := mustGet(t, s, "proj", "key")
		if string(again.State) != "state" {
			t.Errorf("modifying a returned State changed the store: %q", again.State)
		}
	})
}

// Ensure that Get of an absent bucket or key reports absence without error.
func TestStore_Get_Absent(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync())
	if _, ok := mustGet(t, s, "nope", "k"); ok {
		t.Error("Get(absent bucket) found a record")
	}
	mustCommit(t, s, put("p", "a", 0, rec(1, "x")))
	if _, ok := mustGet(t, s, "p", "b"); ok {
		t.Error("Get(absent key) found a record")
	}
	if _, ok := mustGet(t, s, "p", "a\x00"); ok {
		t.Error("Get(key with a stored prefix) found a record")
	}
}

// Ensure that Expect guards every write: 0 requires absence, otherwise the
// version on disk.
func TestStore_Commit_ExpectConflict(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		s := openStore(t, opts...)
		ctx := context.Background()
		mustCommit(t, s, put("p", "k", 0, rec(1, "v1")))
		for _, expect := range []uint64{0, 2} {
			err := s.Commit(ctx, []store.Write{put("p", "k", expect, rec(3, "bad"))})
			var ce *store.ConflictError
			if !errors.Is(err, store.ErrConflict) || !errors.As(err, &ce) {
				t.Fatalf("Commit(expect %d) = %v; want a *ConflictError", expect, err)
			}
			if ce.Bucket != "p" || ce.Key != "k" || ce.Expected != expect || ce.Actual != 1 {
				t.Errorf("ConflictError = %+v; want p/k expected %d actual 1", ce, expect)
			}
		}
		mustCommit(t, s, put("p", "k", 1, rec(2, "v2")))
		if r, _ := mustGet(t, s, "p", "k"); r.Version != 2 || string(r.State) != "v2" {
			t.Errorf("Get = %+v; want version 2", r)
		}
		err := s.Commit(ctx, []store.Write{put("p", "absent", 5, rec(6, "x"))})
		var ce *store.ConflictError
		if !errors.As(err, &ce) || ce.Actual != 0 {
			t.Errorf("Commit(expect 5 on absent) = %v; want conflict with actual 0", err)
		}
	})
}

// Ensure that in one batch a conflicting request fails alone, the others
// commit, and Expect sees earlier requests of the same transaction.
func TestStore_Submit_ConflictFailsAloneInBatch(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		s := openStore(t, opts...)
		mustCommit(t, s, put("p", "existing", 0, rec(4, "e")))
		before := s.Stats()

		b := block(t, s)
		first := submit(t, s, put("p", "a", 0, rec(1, "a1")))
		wrong := submit(t, s, put("p", "existing", 3, rec(5, "no")), put("p", "z", 0, rec(1, "no")))
		chained := submit(t, s, put("p", "a", 1, rec(2, "a2"))) // sees first's write
		other := submit(t, s, put("q", "b", 0, rec(1, "b1")))
		b.unblock()

		if err := first.wait(t); err != nil {
			t.Errorf("first = %v", err)
		}
		var ce *store.ConflictError
		if err := wrong.wait(t); !errors.As(err, &ce) || ce.Key != "existing" || ce.Actual != 4 {
			t.Errorf("wrong = %v; want conflict on existing (actual 4)", err)
		}
		if err := chained.wait(t); err != nil {
			t.Errorf("chained = %v", err)
		}
		if err := other.wait(t); err != nil {
			t.Errorf("other = %v", err)
		}
		if r, _ := mustGet(t, s, "p", "a"); r.Version != 2 {
			t.Errorf("a version = %d; want 2", r.Version)
		}
		if _, ok := mustGet(t, s, "p", "z"); ok {
			t.Error("z of the conflicting request was written")
		}
		if r, _ := mustGet(t, s, "p", "existing"); r.Version != 4 {
			t.Errorf("existing version = %d; want 4", r.Version)
		}
		st := s.Stats()
		if st.MaxBatchRequests < 4 {
			t.Errorf("MaxBatchRequests = %d; want the 4 queued requests in one batch", st.MaxBatchRequests)
		}
		if got := st.Commits - before.Commits; got != 1 {
			t.Errorf("commits for the batch = %d; want 1", got)
		}
		if got := st.Conflicts - before.Conflicts; got != 1 {
			t.Errorf("Conflicts = %d; want 1", got)
		}
	})
}

// Ensure that Delete removes a record, honours Expect, and that deleting an
// absent record with Expect 0 succeeds.
func TestStore_Commit_Delete(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		s := openStore(t, opts...)
		ctx := context.Background()
		mustCommit(t, s, put("p", "k", 0, rec(1, "v")))
		del := func(expect uint64) error {
			return s.Commit(ctx, []store.Write{{Bucket: "p", Key: "k", Expect: expect, Delete: true}})
		}
		if err := del(2); !errors.Is(err, store.ErrConflict) {
			t.Errorf("Delete(expect 2) = %v; want ErrConflict", err)
		}
		if err := del(1); err != nil {
			t.Fatalf("Delete(expect 1) = %v", err)
		}
		if _, ok := mustGet(t, s, "p", "k"); ok {
			t.Error("record present after Delete")
		}
		if err := del(0); err != nil {
			t.Errorf("Delete(absent, expect 0) = %v", err)
		}
		if err := s.Commit(ctx, []store.Write{{Bucket: "nobucket", Key: "k", Delete: true}}); err != nil {
			t.Errorf("Delete(absent bucket) = %v", err)
		}
		mustCommit(t, s, put("p", "k", 0, rec(1, "again")))
	})
}

// Ensure that the writes of one request apply all or none.
func TestStore_Commit_RequestIsAtomic(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync())
	mustCommit(t, s, put("p", "taken", 0, rec(1, "t")))
	err := s.Commit(context.Background(), []store.Write{
		put("p", "new1", 0, rec(1, "n")),
		put("q", "new2", 0, rec(1, "n")),
		put("p", "taken", 0, rec(1, "n")), // conflicts
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Commit = %v; want ErrConflict", err)
	}
	for _, k := range [][2]string{{"p", "new1"}, {"q", "new2"}} {
		if _, ok := mustGet(t, s, k[0], k[1]); ok {
			t.Errorf("%s/%s written by a failed request", k[0], k[1])
		}
	}
	mustCommit(t, s,
		put("p", "new1", 0, rec(1, "n")),
		put("q", "new2", 0, rec(1, "n")),
		store.Write{Bucket: "p", Key: "taken", Expect: 1, Delete: true},
	)
	if _, ok := mustGet(t, s, "q", "new2"); !ok {
		t.Error("q/new2 missing after a successful multi-write request")
	}
	if _, ok := mustGet(t, s, "p", "taken"); ok {
		t.Error("p/taken present after a successful multi-write request deleted it")
	}
}

// Ensure that callbacks run in submission order.
func TestStore_Submit_CallbacksInOrder(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		s := openStore(t, append(opts, boltstore.WithMaxBatch(7))...)
		const n = 300
		var got []int // appended only on the completer goroutine
		all := make(chan struct{})
		for i := range n {
			err := s.Submit(context.Background(), []store.Write{put("p", key(i), 0, rec(1, "v"))}, func(err error) {
				if err != nil {
					t.Errorf("request %d = %v", i, err)
				}
				got = append(got, i)
				if len(got) == n {
					close(all)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		<-all
		for i, v := range got {
			if v != i {
				t.Fatalf("callback %d was for request %d; want submission order", i, v)
			}
		}
		if st := s.Stats(); st.MaxBatchRequests > 7 {
			t.Errorf("MaxBatchRequests = %d; want <= WithMaxBatch(7)", st.MaxBatchRequests)
		}
	})
}

// Ensure that many goroutines committing with Expect chains on their own keys
// and on one shared key all end with the right final state.
func TestStore_Commit_ConcurrentWriters(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		s := openStore(t, opts...)
		const writers, per = 16, 25
		ctx := context.Background()
		var wg sync.WaitGroup
		for g := range writers {
			wg.Go(func() {
				for v := uint64(1); v <= per; v++ {
					if err := s.Commit(ctx, []store.Write{put("own", key(g), v-1, rec(v, "s"))}); err != nil {
						t.Errorf("writer %d version %d: %v", g, v, err)
						return
					}
					// Optimistic increment of a shared counter.
					for {
						cur, _, err := s.Get(ctx, "shared", "counter")
						if err != nil {
							t.Errorf("Get(counter) = %v", err)
							return
						}
						err = s.Commit(ctx, []store.Write{put("shared", "counter", cur.Version, rec(cur.Version+1, ""))})
						if err == nil {
							break
						}
						if !errors.Is(err, store.ErrConflict) {
							t.Errorf("Commit(counter) = %v", err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		for g := range writers {
			if r, _ := mustGet(t, s, "own", key(g)); r.Version != per {
				t.Errorf("own/%s version = %d; want %d", key(g), r.Version, per)
			}
		}
		if r, _ := mustGet(t, s, "shared", "counter"); r.Version != writers*per {
			t.Errorf("counter = %d; want %d", r.Version, writers*per)
		}
		if st := s.Stats(); st.Writes != writers*per*2 {
			t.Errorf("Stats.Writes = %d; want %d", st.Writes, writers*per*2)
		}
	})
}

// Ensure that invalid writes are rejected synchronously, naming bucket and
// key, and done is not called.
func TestStore_Submit_InvalidWrites(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync())
	long := strings.Repeat("x", bolt.MaxKeySize+1)
	cases := []struct {
		name    string
		writes  []store.Write
		want    error
		mention string
	}{
		{"empty bucket", []store.Write{put("", "k1", 0, rec(1, ""))}, store.ErrInvalidName, "k1"},
		{"long bucket", []store.Write{put(strings.Repeat("b", 256), "k", 0, rec(1, ""))}, store.ErrInvalidName, "bbbb"},
		{"empty key", []store.Write{put("proj", "", 0, rec(1, ""))}, store.ErrInvalidKey, "proj"},
		{"long key", []store.Write{put("proj", long, 0, rec(1, ""))}, store.ErrInvalidKey, "proj"},
		{"empty key delete", []store.Write{{Bucket: "proj", Delete: true}}, store.ErrInvalidKey, "proj"},
		{"version 0", []store.Write{put("proj", "k2", 0, rec(0, ""))}, store.ErrInvalidRecord, "k2"},
		{"time range", []store.Write{put("proj", "k3", 0, store.Record{Version: 1, UpdatedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})}, store.ErrInvalidRecord, "k3"},
		{"duplicate", []store.Write{put("proj", "k4", 0, rec(1, "")), put("proj", "k4", 1, rec(2, ""))}, store.ErrDuplicateWrite, "k4"},
		{"second write invalid", []store.Write{put("proj", "ok", 0, rec(1, "")), put("proj", "", 0, rec(1, ""))}, store.ErrInvalidKey, "proj"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			called := make(chan struct{}, 1)
			err := s.Submit(context.Background(), c.writes, func(error) { called <- struct{}{} })
			if !errors.Is(err, c.want) {
				t.Fatalf("Submit = %v; want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("Submit = %q; want it to mention %q", err, c.mention)
			}
			if err := s.Commit(context.Background(), c.writes); !errors.Is(err, c.want) {
				t.Errorf("Commit = %v; want %v", err, c.want)
			}
			// A barrier request: once it is reported, any callback of the
			// rejected request would have run.
			mustCommit(t, s)
			select {
			case <-called:
				t.Error("done was called for a rejected request")
			default:
			}
		})
	}
	if _, _, err := s.Get(context.Background(), "", "k"); !errors.Is(err, store.ErrInvalidName) {
		t.Errorf("Get(empty bucket) = %v; want ErrInvalidBucket", err)
	}
	if _, _, err := s.Get(context.Background(), "p", ""); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Get(empty key) = %v; want ErrInvalidKey", err)
	}
	// The longest valid key and bucket are accepted.
	mustCommit(t, s, put(strings.Repeat("b", store.MaxNameLen), long[1:], 0, rec(1, "")))
}

// Ensure that a cancelled context fails Submit synchronously, and that a full
// queue blocks Submit until its context ends.
func TestStore_Submit_ContextAndBackPressure(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync(), boltstore.WithQueueSize(1))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	w := []store.Write{put("p", "k", 0, rec(1, ""))}
	if err := s.Submit(cancelled, w, func(error) { t.Error("done called after ctx error") }); !errors.Is(err, context.Canceled) {
		t.Errorf("Submit(cancelled) = %v; want context.Canceled", err)
	}
	b := block(t, s)
	queued := submit(t, s, w...) // fills the queue of 1
	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	err := s.Submit(ctx, []store.Write{put("p", "other", 0, rec(1, ""))}, func(error) { t.Error("done called after ctx error") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Submit(full queue) = %v; want DeadlineExceeded", err)
	}
	if st := s.Stats(); st.QueueLen != 1 {
		t.Errorf("QueueLen = %d; want 1", st.QueueLen)
	}
	b.unblock()
	if err := queued.wait(t); err != nil {
		t.Errorf("queued = %v", err)
	}
}

// Ensure that Commit waits for the outcome even when its context ends after
// the request was enqueued.
func TestStore_Commit_WaitsPastContext(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync())
	b := block(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error)
	go func() { res <- s.Commit(ctx, []store.Write{put("p", "k", 0, rec(1, ""))}) }()
	for s.Stats().QueueLen == 0 {
		time.Sleep(time.Millisecond) // polling the observable queue length, not timing
	}
	cancel()
	b.unblock()
	if err := <-res; err != nil {
		t.Fatalf("Commit = %v; want the committed outcome", err)
	}
	if _, ok := mustGet(t, s, "p", "k"); !ok {
		t.Error("record missing")
	}
}

// Ensure that a panicking callback is logged and neither stops the Store
// nor skips the callbacks after it.
func TestStore_Submit_PanickingDone(t *testing.T) {
	var buf syncBuffer
	s := openStore(t, boltstore.WithNoSync(), boltstore.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	b := block(t, s)
	if err := s.Submit(context.Background(), []store.Write{put("p", "a", 0, rec(1, ""))}, func(error) { panic("boom") }); err != nil {
		t.Fatal(err)
	}
	after := submit(t, s, put("p", "b", 0, rec(1, "")))
	b.unblock()
	if err := after.wait(t); err != nil {
		t.Fatalf("request after the panic = %v", err)
	}
	mustCommit(t, s, put("p", "c", 0, rec(1, "")))
	if st := s.Stats(); st.CallbackPanics != 1 {
		t.Errorf("CallbackPanics = %d; want 1", st.CallbackPanics)
	}
	if !strings.Contains(buf.String(), "boom") {
		t.Errorf("log = %q; want the panic value", buf.String())
	}
}

// Ensure that a commit exceeding WithMaxSize fails the whole batch with
// ErrCommit, leaves nothing of it on disk, and later commits that fit work.
func TestStore_Commit_MaxSizeFailsBatchThenRecovers(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		var buf syncBuffer
		opts = append(opts, boltstore.WithMaxSize(256<<10), boltstore.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		s := openStore(t, opts...)
		mustCommit(t, s, put("p", "small", 0, rec(1, "x")))

		b := block(t, s)
		small := submit(t, s, put("p", "a", 0, rec(1, "a")))
		big := submit(t, s, put("p", "big", 0, rec(1, string(bytes.Repeat([]byte{1}, 512<<10)))))
		b.unblock()
		errSmall, errBig := small.wait(t), big.wait(t)
		for _, err := range []error{errSmall, errBig} {
			if !errors.Is(err, store.ErrCommit) || !errors.Is(err, berrors.ErrMaxSizeReached) {
				t.Errorf("request in the oversized batch = %v; want ErrCommit wrapping ErrMaxSizeReached", err)
			}
		}
		for _, k := range []string{"a", "big"} {
			if _, ok := mustGet(t, s, "p", k); ok {
				t.Errorf("%s is on disk after the failed commit", k)
			}
		}
		mustCommit(t, s, put("p", "a", 0, rec(1, "a")))
		mustCommit(t, s, put("p", "small", 1, rec(2, "y")))
		if r, _ := mustGet(t, s, "p", "small"); r.Version != 2 {
			t.Errorf("small version = %d; want 2", r.Version)
		}
		if st := s.Stats(); st.FailedCommits != 1 {
			t.Errorf("FailedCommits = %d; want 1", st.FailedCommits)
		}
		if !strings.Contains(buf.String(), "commit failed") {
			t.Errorf("log = %q; want the failed commit", buf.String())
		}
	})
}

// Ensure that Stats counts batches, commits, writes and conflicts.
func TestStore_Stats_Counts(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync())
	if st := s.Stats(); st != (boltstore.Stats{}) {
		t.Errorf("fresh Stats = %+v; want zero", st)
	}
	mustCommit(t, s, put("p", "a", 0, rec(1, "")), put("p", "b", 0, rec(1, "")))
	_ = s.Commit(context.Background(), []store.Write{put("p", "a", 0, rec(1, ""))}) // conflict
	b := block(t, s)
	o1 := submit(t, s, put("p", "c", 0, rec(1, "")))
	o2 := submit(t, s, put("p", "d", 0, rec(1, "")), put("p", "e", 0, rec(1, "")))
	b.unblock()
	o1.wait(t)
	o2.wait(t)
	st := s.Stats()
	want := boltstore.Stats{
		Requests: 5, Writes: 5, Batches: 4, Commits: 2, Conflicts: 1,
		MaxBatchRequests: 2, MaxBatchWrites: 3, MeanBatchRequests: 5.0 / 4, MeanBatchWrites: 6.0 / 4,
	}
	if st.MeanCommitLatency <= 0 || st.MaxCommitLatency < st.MeanCommitLatency {
		t.Errorf("commit latency mean %v max %v; want 0 < mean <= max", st.MeanCommitLatency, st.MaxCommitLatency)
	}
	if st.LogBytes <= 0 {
		t.Errorf("LogBytes = %d; want the frames of two commits", st.LogBytes)
	}
	st.MeanCommitLatency, st.MaxCommitLatency, st.LogBytes = 0, 0, 0
	if st != want {
		t.Errorf("Stats = %+v\nwant    %+v", st, want)
	}
	var fromVar boltstore.Stats
	if err := json.Unmarshal([]byte(s.Var().String()), &fromVar); err != nil || fromVar.Writes != 5 {
		t.Errorf("Var() = %s (%v); want JSON Stats with Writes 5", s.Var().String(), err)
	}
}

// syncBuffer is a log sink safe for the Store's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
