package boltstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/livefold/livefold/store"
)

// This test is in the package because it swaps the log's file to make a
// write fail, which the public API cannot do.

// Ensure that a commit whose log write fails reports store.ErrCommit and leaves
// nothing behind, neither for readers nor for a replay after a crash, and
// that the store commits again once the log can be written.
func TestWAL_FailedAppendChangesNothingThenRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	put := func(key, state string, version uint64) store.Write {
		return store.Write{Bucket: "p", Key: key, Expect: version - 1, Record: store.Record{Version: version, State: []byte(state)}}
	}
	if err := s.Commit(ctx, []store.Write{put("a", "one", 1)}); err != nil {
		t.Fatal(err)
	}

	// The syncer reads s.wal.f only once the committer received the next
	// request and handed its frame over, which the channel send orders after
	// this swap.
	real := s.wal.f
	broken, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	s.wal.f = osFile{broken}
	err = s.Commit(ctx, []store.Write{put("b", "lost", 1)})
	if !errors.Is(err, store.ErrCommit) {
		t.Fatalf("Commit with a failing log = %v; want store.ErrCommit", err)
	}
	if _, ok, err := s.Get(ctx, "p", "b"); ok || err != nil {
		t.Fatalf("Get(b) after the failed commit = %v, %v; want absent", ok, err)
	}

	s.wal.f = real
	if err := s.Commit(ctx, []store.Write{put("b", "kept", 1)}); err != nil {
		t.Fatalf("Commit once the log works again = %v", err)
	}
	if r, ok, err := s.Get(ctx, "p", "b"); !ok || err != nil || string(r.State) != "kept" {
		t.Fatalf("Get(b) = %q, %v, %v; want kept", r.State, ok, err)
	}

	// A crash now replays exactly the two successful commits.
	data, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	fp, _, err := loadFoldPoint(s.db, path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scanLog(path+"-wal", data, fp, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range sc.writes {
		rec, err := DecodeRecord(w.value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, w.key+"="+string(rec.State))
	}
	if len(got) != 2 || got[0] != "a=one" || got[1] != "b=kept" {
		t.Fatalf("log replays %v; want [a=one b=kept]", got)
	}
}
