package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
)

// crashCopy copies a live store's file and log files to a new directory, as
// a crash at this moment would leave them, and returns the copy's path. The
// log is only written by commits, which do not run while the caller waits
// between them, and the file only by checkpoints: the caller makes sure none
// runs (its commits did not fill the log since the last Checkpoint).
func crashCopy(t *testing.T, s *boltstore.Store) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal", "-wal2"} {
		in, err := os.Open(s.Path() + suffix)
		if errors.Is(err, fs.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(dst + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// Ensure that commits acknowledged but not yet folded into the file survive a
// crash: Open replays the log.
func TestStore_Open_ReplaysLogAfterCrash(t *testing.T) {
	s := openStore(t)
	for i := range 5 {
		mustCommit(t, s, put("p", fmt.Sprint("k", i), 0, rec(1, fmt.Sprint("v", i))))
	}
	mustCommit(t, s, put("p", "k0", 1, rec(2, "v0b")), store.Write{Bucket: "p", Key: "k1", Expect: 1, Delete: true})
	if st := s.Stats(); st.Checkpoints != 0 || st.LogBytes == 0 {
		t.Fatalf("Stats = %+v; want the commits in the log only", st)
	}

	c := openPath(t, crashCopy(t, s))
	if got := c.LogRecords(); got != 7 {
		t.Errorf("LogRecords = %d; want the 7 writes of the log", got)
	}
	want := map[string]string{"k0": "v0b", "k2": "v2", "k3": "v3", "k4": "v4"}
	for k, v := range want {
		r, ok := mustGet(t, c, "p", k)
		if !ok || string(r.State) != v {
			t.Errorf("after replay Get(%s) = %q, %v; want %q", k, r.State, ok, v)
		}
	}
	if _, ok := mustGet(t, c, "p", "k1"); ok {
		t.Error("after replay k1 exists; want it deleted")
	}
}

// Ensure that a frame torn by a crash is ignored and the frames before it are
// replayed.
func TestStore_Open_IgnoresTornFrame(t *testing.T) {
	s := openStore(t)
	mustCommit(t, s, put("p", "a", 0, rec(1, "first")))
	mustCommit(t, s, put("p", "b", 0, rec(1, "second")))
	path := crashCopy(t, s)
	// Cut the last frame in the middle, as a crash during its write would.
	if err := os.Truncate(path+"-wal", s.Stats().LogBytes-5); err != nil {
		t.Fatal(err)
	}
	c := openPath(t, path)
	if r, ok := mustGet(t, c, "p", "a"); !ok || string(r.State) != "first" {
		t.Errorf("Get(a) = %q, %v; want the first frame replayed", r.State, ok)
	}
	if _, ok := mustGet(t, c, "p", "b"); ok {
		t.Error("Get(b) found the torn frame's write")
	}
}

// Ensure that the log is folded into the file when it reaches its size,
// while commits go on into the log's other file, and that once the log
// turns back to a file, the frames of the generation it held before are
// never replayed.
func TestStore_Checkpoint_RestartsLogWithoutResurrection(t *testing.T) {
	s := openStore(t, boltstore.WithWALSize(64<<10))
	big := string(make([]byte, 4000))
	for i := 0; s.Stats().Checkpoints < 2; i++ {
		if i > 200 {
			t.Fatal("no second checkpoint after 200 commits of 4 KB")
		}
		mustCommit(t, s, put("p", fmt.Sprint("k", i), 0, rec(1, big)))
	}
	if st := s.Stats(); st.MeanCheckpoint <= 0 || st.MaxCheckpoint < st.MeanCheckpoint {
		t.Errorf("checkpoint time mean %v max %v; want 0 < mean <= max", st.MeanCheckpoint, st.MaxCheckpoint)
	}
	// Two checkpoints in, the log writes its first file again: the new
	// frames, the same size as the first generation's, are followed by
	// that generation's later frames, which hold an older k1. Replaying
	// them would bring k1 back to version 1.
	mustCommit(t, s, put("p", "k1", 1, rec(2, big)))
	c := openPath(t, crashCopy(t, s))
	if r, ok := mustGet(t, c, "p", "k1"); !ok || r.Version != 2 {
		t.Errorf("k1 = version %d, %v; want version 2: a frame of the previous generation was replayed", r.Version, ok)
	}
	if _, ok := mustGet(t, c, "p", "k2"); !ok {
		t.Error("k2 lost after the checkpoint")
	}
}

// Ensure that a clean Close folds the log into the file and removes it, so
// the file alone holds every commit.
func TestStore_Close_FoldsAndRemovesLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clean.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, put("p", "k", 0, rec(1, "v")))
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("log missing while open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Fatalf("log still there after Close: %v", err)
	}
	c := openPath(t, path)
	if r, ok := mustGet(t, c, "p", "k"); !ok || string(r.State) != "v" {
		t.Errorf("Get after reopen = %q, %v", r.State, ok)
	}
}

// Ensure that Scan and Buckets see commits that are still only in the log.
func TestStore_Scan_SeesLoggedCommits(t *testing.T) {
	s := openStore(t)
	mustCommit(t, s, put("p", "a", 0, rec(1, "x")), put("p", "b", 0, rec(1, "y")))
	n := 0
	for kr, err := range s.Scan(context.Background(), "p") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		_ = kr
	}
	if n != 2 {
		t.Errorf("Scan yielded %d records; want 2", n)
	}
	bs, err := s.Buckets(context.Background())
	if err != nil || len(bs) != 1 || bs[0].Keys != 2 {
		t.Errorf("Buckets = %+v, %v; want p with 2 keys", bs, err)
	}
}

func openPath(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return s
}

// Ensure that a log left by a crash is folded into the file even when the
// next store runs without a log, and removed, so that no later store can
// replay it over newer records.
func TestStore_Open_WithoutWALReplaysLeftoverLog(t *testing.T) {
	s := openStore(t)
	mustCommit(t, s, put("p", "k", 0, rec(1, "logged")))
	path := crashCopy(t, s)

	c, err := boltstore.Open(path, boltstore.WithoutWAL())
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := mustGet(t, c, "p", "k"); !ok || string(r.State) != "logged" {
		t.Errorf("Get without a log = %q, %v; want the logged commit", r.State, ok)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("leftover log still there: %v", err)
	}
	mustCommit(t, c, put("p", "k", 1, rec(2, "newer")))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	again := openPath(t, path)
	if r, ok := mustGet(t, again, "p", "k"); !ok || r.Version != 2 {
		t.Errorf("after reopening with a log, k = version %d, %v; want 2", r.Version, ok)
	}
}

// Ensure that once the log turned back to a file after checkpoints, a
// crash that tears the new first frame cannot make the old first frame
// replay on its own and take keys back to older values.
func TestStore_Checkpoint_TornNewFirstFrameReplaysNothingOld(t *testing.T) {
	s := openStore(t)
	mustCommit(t, s, put("p", "k", 0, rec(1, "v1")))
	mustCommit(t, s, put("p", "k", 1, rec(2, "v2")))
	first := s.Stats().LogBytes / 2 // both frames have the same size
	// The second checkpoint's generation is in the log's other file; the
	// next one goes to the first file again, from its start.
	for _, k := range []string{"", "other"} {
		if k != "" {
			mustCommit(t, s, put("p", k, 0, rec(1, "o")))
		}
		if err := s.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	path := crashCopy(t, s)
	// A torn new first frame whose later sectors reached the disk: they
	// overwrote the header of the old second frame, not the first.
	f, err := os.OpenFile(path+"-wal", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("torn new frame bytes"), first); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := openPath(t, path)
	if r, ok := mustGet(t, c, "p", "k"); !ok || r.Version != 2 {
		t.Errorf("k = version %d, %v; want 2: the old first frame was replayed alone", r.Version, ok)
	}
}

// Ensure that Scan yields every record in key order across its chunks and
// that its loop body may call the Store, Scan, Commit and Buckets included,
// while commits push the log through checkpoints.
func TestStore_Scan_BodyMayCallTheStore(t *testing.T) {
	s := openStore(t, boltstore.WithWALSize(64<<10))
	const n = 600
	writes := make([]store.Write, 0, n)
	for i := range n {
		writes = append(writes, put("p", fmt.Sprintf("k%04d", i), 0, rec(1, "x")))
	}
	mustCommit(t, s, writes...)
	ctx := context.Background()
	big := string(make([]byte, 8000))
	i := 0
	for kr, err := range s.Scan(ctx, "p") {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("k%04d", i); kr.Key != want {
			t.Fatalf("record %d = %s; want %s", i, kr.Key, want)
		}
		if i%50 == 0 {
			mustCommit(t, s, put("other", fmt.Sprint("o", i), 0, rec(1, big)))
			if _, ok := mustGet(t, s, "other", fmt.Sprint("o", i)); !ok {
				t.Fatalf("Get inside the loop missed a commit")
			}
			if _, err := s.Buckets(ctx); err != nil {
				t.Fatal(err)
			}
		}
		i++
	}
	if i != n {
		t.Fatalf("Scan yielded %d records; want %d", i, n)
	}
	// A Checkpoint waits for the one running, if any, and folds the last
	// commit: one more than ran during the scan.
	mustCommit(t, s, put("other", "last", 0, rec(1, "x")))
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Checkpoints < 2 {
		t.Fatal("no checkpoint ran during the scan; the test did not exercise what it should")
	}
}

// Ensure that a Checkpoint that grows the file, in a batch whose other
// request read the file to be judged, completes: the committer's read of
// the file ends before it waits for the checkpoint, whose commit waits for
// every read to remap the grown file.
func TestStore_Checkpoint_GrowingTheFileAfterARead(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	mustCommit(t, s, put("p", "k", 0, rec(1, "v1")))
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	big := string(make([]byte, 64<<10))
	for i := range 40 {
		mustCommit(t, s, put("q", fmt.Sprint("big", i), 0, rec(1, big)))
	}
	b := block(t, s)
	conflict := submit(t, s, put("p", "k", 5, rec(6, "no"))) // k is only in the file
	done := make(chan error, 1)
	go func() { done <- s.Checkpoint(ctx) }()
	for s.Stats().QueueLen < 2 {
		time.Sleep(time.Millisecond) // polling the observable queue length, not timing
	}
	b.unblock()
	if err := conflict.wait(t); !errors.Is(err, store.ErrConflict) {
		t.Errorf("conflicting request = %v; want ErrConflict", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Checkpoint = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Checkpoint did not return: the committer's read of the file held up its commit")
	}
	if r, ok := mustGet(t, s, "q", "big39"); !ok || r.Version != 1 {
		t.Errorf("big39 = %v, %v; want version 1", r.Version, ok)
	}
}
