package boltstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
)

// openReadOnly opens path with WithReadOnly and closes it when the test
// ends.
func openReadOnly(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.WithReadOnly())
	if err != nil {
		t.Fatalf("Open(%s, WithReadOnly) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return s
}

// fileSums returns the SHA-256 of path and of its log, "" for a missing one.
func fileSums(t *testing.T, path string) [2]string {
	t.Helper()
	var sums [2]string
	for i, p := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = fmt.Sprintf("%x", sha256.Sum256(data))
	}
	return sums
}

// scanAll returns every record of bucket as "key=version:state", failing the
// test on any error.
func scanAll(t *testing.T, s *boltstore.Store, bucket string) []string {
	t.Helper()
	var out []string
	for kr, err := range s.Scan(context.Background(), bucket) {
		if err != nil {
			t.Fatalf("Scan(%s) = %v", bucket, err)
		}
		out = append(out, fmt.Sprintf("%s=%d:%.16s", kr.Key, kr.Record.Version, kr.Record.State))
	}
	return out
}

// keysAll returns every key of bucket, failing the test on any error.
func keysAll(t *testing.T, s *boltstore.Store, bucket string) []string {
	t.Helper()
	var out []string
	for k, err := range s.Keys(context.Background(), bucket) {
		if err != nil {
			t.Fatalf("Keys(%s) = %v", bucket, err)
		}
		out = append(out, k)
	}
	return out
}

// Ensure that a read-only open of a store that stopped without Close serves
// the commits its log holds, as the store that wrote them did, refuses
// writes, and leaves the file and its log byte for byte as they were.
func TestOpen_ReadOnly_ServesLogOfUncleanStop(t *testing.T) {
	s := openStore(t, boltstore.WithWALSize(64<<10))
	big := string(make([]byte, 4000))
	for i := range 20 {
		mustCommit(t, s, put("p", fmt.Sprint("f", i), 0, rec(1, big)))
	}
	if err := s.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	// In the log only: a record of the file replaced, one deleted, a new
	// key, a new bucket, and a key written twice.
	mustCommit(t, s,
		put("p", "f0", 1, rec(2, "newer")),
		store.Write{Bucket: "p", Key: "f1", Expect: 1, Delete: true},
		put("p", "n0", 0, rec(1, "n")),
		put("q", "x", 0, rec(1, "x1")),
	)
	mustCommit(t, s, put("q", "x", 1, rec(2, "x2")))
	path := crashCopy(t, s)
	before := fileSums(t, path)

	ro := openReadOnly(t, path)
	if got := ro.LogRecords(); got != 5 {
		t.Errorf("LogRecords = %d; want the 5 writes of the log", got)
	}
	if r, ok := mustGet(t, ro, "p", "f0"); !ok || r.Version != 2 || string(r.State) != "newer" {
		t.Errorf("Get(p, f0) = %+v, %v; want the log's version 2", r, ok)
	}
	if _, ok := mustGet(t, ro, "p", "f1"); ok {
		t.Error("Get(p, f1) found the record the log deleted")
	}
	if r, ok := mustGet(t, ro, "q", "x"); !ok || r.Version != 2 {
		t.Errorf("Get(q, x) = %+v, %v; want the log's last version 2", r, ok)
	}
	ctx := context.Background()
	for _, bucket := range []string{"p", "q"} {
		want := scanAll(t, s, bucket)
		if got := scanAll(t, ro, bucket); !slices.Equal(got, want) {
			t.Errorf("read-only Scan(%s) = %v\nwant the writer's %v", bucket, got, want)
		}
		var wantKeys []string
		for _, r := range want {
			k, _, _ := strings.Cut(r, "=")
			wantKeys = append(wantKeys, k)
		}
		if got := keysAll(t, ro, bucket); !slices.Equal(got, wantKeys) {
			t.Errorf("read-only Keys(%s) = %v; want %v", bucket, got, wantKeys)
		}
	}
	gotBuckets, err := ro.Buckets(ctx)
	if err != nil {
		t.Fatalf("Buckets = %v", err)
	}
	wantBuckets, err := s.Buckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := func(bs []boltstore.BucketInfo) (out []string) {
		for _, b := range bs {
			out = append(out, fmt.Sprintf("%s:%d", b.Name, b.Keys))
		}
		return out
	}
	if got, want := names(gotBuckets), names(wantBuckets); !slices.Equal(got, want) {
		t.Errorf("read-only Buckets = %v; want the writer's %v", got, want)
	}
	if bad, err := ro.Verify(ctx); err != nil || len(bad) != 0 {
		t.Errorf("Verify = %v, %v; want no damage", bad, err)
	}

	w := []store.Write{put("p", "new", 0, rec(1, "w"))}
	err = ro.Submit(ctx, w, func(error) { t.Error("done called by a read-only store") })
	if !errors.Is(err, boltstore.ErrReadOnly) || !errors.Is(err, store.ErrUnsupported) {
		t.Errorf("Submit = %v; want ErrReadOnly and store.ErrUnsupported", err)
	}
	if err := ro.Commit(ctx, w); !errors.Is(err, boltstore.ErrReadOnly) {
		t.Errorf("Commit = %v; want ErrReadOnly", err)
	}
	if err := ro.Checkpoint(ctx); !errors.Is(err, boltstore.ErrReadOnly) {
		t.Errorf("Checkpoint = %v; want ErrReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if after := fileSums(t, path); after != before {
		t.Errorf("file and log sums %v after a read-only open; want %v", after, before)
	}
	if err := ro.Commit(ctx, w); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Commit after Close = %v; want ErrClosed", err)
	}
}

// Ensure that a read-only open reads only the complete frames of the log,
// as a writer's recovery would.
func TestOpen_ReadOnly_IgnoresTornFrame(t *testing.T) {
	s := openStore(t)
	mustCommit(t, s, put("p", "a", 0, rec(1, "first")))
	mustCommit(t, s, put("p", "b", 0, rec(1, "second")))
	path := crashCopy(t, s)
	if err := os.Truncate(path+"-wal", s.Stats().LogBytes-5); err != nil {
		t.Fatal(err)
	}
	ro := openReadOnly(t, path)
	if got := scanAll(t, ro, "p"); !slices.Equal(got, []string{"a=1:first"}) {
		t.Errorf("Scan = %v; want only the complete frame's a", got)
	}
	if got := ro.LogRecords(); got != 1 {
		t.Errorf("LogRecords = %d; want 1", got)
	}
}

// Ensure that a read-only open of a cleanly closed store reads the file and
// reports no log.
func TestOpen_ReadOnly_CleanFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, put("p", "k", 0, rec(1, "v")))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro := openReadOnly(t, path)
	if got := ro.LogRecords(); got != 0 {
		t.Errorf("LogRecords = %d; want 0", got)
	}
	if r, ok := mustGet(t, ro, "p", "k"); !ok || string(r.State) != "v" {
		t.Errorf("Get = %+v, %v; want v", r, ok)
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a read-only open created the log: %v", err)
	}
}

// Ensure that a read-only open never creates a missing file and reports it
// as fs.ErrNotExist.
func TestOpen_ReadOnly_MissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.db")
	s, err := boltstore.Open(path, boltstore.WithReadOnly())
	if err == nil {
		s.Close()
		t.Fatal("Open(missing, WithReadOnly) succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing, WithReadOnly) = %v; want fs.ErrNotExist", err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("directory holds %v after a failed read-only open; want nothing", entries)
	}
}

// Ensure that a read-only open fails with ErrLocked while a writer holds the
// file, and that a writer cannot open a file a read-only store holds.
func TestOpen_ReadOnly_Locking(t *testing.T) {
	s := openStore(t)
	mustCommit(t, s, put("p", "k", 0, rec(1, "v")))
	if ro, err := boltstore.Open(s.Path(), boltstore.WithReadOnly(), boltstore.WithOpenTimeout(0)); !errors.Is(err, boltstore.ErrLocked) {
		if err == nil {
			ro.Close()
		}
		t.Fatalf("Open(held by a writer, WithReadOnly) = %v; want ErrLocked", err)
	}
	path := crashCopy(t, s)
	ro := openReadOnly(t, path)
	other := openReadOnly(t, path) // the lock is shared between readers
	if w, err := boltstore.Open(path, boltstore.WithOpenTimeout(0)); !errors.Is(err, boltstore.ErrLocked) {
		if err == nil {
			w.Close()
		}
		t.Fatalf("Open(held by a reader) = %v; want ErrLocked", err)
	}
	for _, r := range []*boltstore.Store{ro, other} {
		if _, ok := mustGet(t, r, "p", "k"); !ok {
			t.Error("Get(p, k) missed the logged commit")
		}
	}
}
