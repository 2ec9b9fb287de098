package boltstore_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
)

// copyTestdata copies a file of testdata into a fresh directory, as Open
// may write to what it opens.
func copyTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Ensure that a file written with record format 1 (testdata/format1.db, by
// livefold before records had a stamp and a lineage) opens and reads, and
// that a write replaces a record with the current format, expected by its
// version and stamp 0.
func TestStore_Open_Format1File(t *testing.T) {
	path := copyTestdata(t, "format1.db")
	st, err := boltstore.Open(path, boltstore.WithNoSync())
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer st.Close()
	ctx := t.Context()
	rec, ok, err := st.Get(ctx, "bank.balances", "alice")
	if err != nil || !ok {
		t.Fatalf("Get(alice) = %v, %v", ok, err)
	}
	wantTime := time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC)
	if rec.Version != 3 || rec.Position != 3 || rec.Stamp != 0 || rec.Lineage != 0 || !rec.UpdatedAt.Equal(wantTime) || len(rec.State) == 0 {
		t.Fatalf("Get(alice) = %+v; want version 3, position 3, stamp and lineage 0, time %v", rec, wantTime)
	}
	var keys []string
	for kr, err := range st.Scan(ctx, "bank.balances") {
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		keys = append(keys, kr.Key)
	}
	if len(keys) != 2 || keys[0] != "alice" || keys[1] != "bob" {
		t.Fatalf("Scan found %q; want alice and bob", keys)
	}
	next := store.Record{Version: 4, Stamp: 77, Lineage: 5, Position: 4, State: rec.State}
	if err := st.Commit(ctx, []store.Write{{Bucket: "bank.balances", Key: "alice", Expect: 3, ExpectStamp: 0, Record: next}}); err != nil {
		t.Fatalf("Commit over a format 1 record = %v", err)
	}
	rec, _, err = st.Get(ctx, "bank.balances", "alice")
	if err != nil || rec.Version != 4 || rec.Stamp != 77 || rec.Lineage != 5 {
		t.Fatalf("Get after the write = %+v, %v; want version 4, stamp 77, lineage 5", rec, err)
	}
}
