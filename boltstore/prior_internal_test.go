package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/livefold/livefold/store"
)

// These tests are in the package because they hold a request between the
// read of its priors and its judging, which the public API does in one
// call.

// putVersion returns a write of version to bucket "p" and key, expecting the
// version before it.
func putVersion(key string, version uint64) store.Write {
	return store.Write{Bucket: "p", Key: key, Expect: version - 1, Record: store.Record{Version: version, State: []byte(fmt.Sprint(version))}}
}

// Ensure that the committer judges writes by what their submitters read
// from the file, never reading it itself, while no checkpoint moves their
// keys into the file meanwhile: new keys, keys the log holds and keys only
// the file holds, with versions that match and one that does not.
func TestStore_Commit_JudgedByWhatTheSubmitterRead(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range 50 {
		if err := s.Commit(ctx, []store.Write{putVersion(fmt.Sprint("k", i), 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := s.Commit(ctx, []store.Write{putVersion(fmt.Sprint("k", i), 2), putVersion(fmt.Sprint("new", i), 1)}); err != nil {
			t.Fatal(err)
		}
	}
	err = s.Commit(ctx, []store.Write{putVersion("k0", 2)})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a write expecting version 1 of a key at version 2 = %v; want a conflict", err)
	}
	if got := s.Stats().CommitterLookups; got != 0 {
		t.Errorf("CommitterLookups = %d; want 0, every write judged by what its submitter read", got)
	}
}

// Ensure that a write whose submitter read the file before a checkpoint
// moved its key there from the log is judged against the file as it is
// then: the committer reads the file itself.
func TestStore_Commit_CheckpointAfterThePriorsWereRead(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	late := request{writes: []store.Write{putVersion("k", 2)}, wait: make(chan error, 1)}
	s.readPriors(&late) // "k" is absent now
	if err := s.Commit(ctx, []store.Write{putVersion("k", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.enqueue(ctx, late); err != nil {
		t.Fatal(err)
	}
	if err := <-late.wait; err != nil {
		t.Fatalf("a write of version 2 read before version 1 was committed and folded = %v; want it committed", err)
	}
	if got := s.Stats().CommitterLookups; got != 1 {
		t.Errorf("CommitterLookups = %d; want 1, for the write whose priors a checkpoint outdated", got)
	}
	rec, ok, err := s.Get(ctx, "p", "k")
	if err != nil || !ok || rec.Version != 2 {
		t.Fatalf("Get = %+v, %v, %v; want version 2", rec, ok, err)
	}
}
