package boltstore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
	bolt "go.etcd.io/bbolt"
)

// newFileOfPages writes 300 records of 200 bytes into bucket p of a new,
// closed file, enough for a tree of several pages, and returns its path,
// the page size and the page of the bucket's root.
func newFileOfPages(t *testing.T) (path string, pageSize int, root int64) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(path, boltstore.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	writes := make([]store.Write, 300)
	for i := range writes {
		writes[i] = put("p", fmt.Sprintf("k%03d", i), 0, rec(1, strings.Repeat("x", 200)))
	}
	mustCommit(t, s, writes...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		root = int64(tx.Bucket([]byte("p")).Root())
		return nil
	})
	if err != nil || root < 2 {
		t.Fatalf("root page %d, %v; want a bucket with pages of its own", root, err)
	}
	return path, db.Info().PageSize, root
}

// Ensure that a truncated file is an error wrapping store.ErrCorrupt from
// Open, in every mode, never a panic or a memory fault.
func TestOpen_TruncatedFile_ErrCorrupt(t *testing.T) {
	path, pageSize, _ := newFileOfPages(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{fi.Size() / 2, 3 * int64(pageSize)} {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		for _, opts := range [][]boltstore.Option{nil, {boltstore.WithoutWAL()}, {boltstore.WithReadOnly()}} {
			s, err := boltstore.Open(path, opts...)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%d options) of a file truncated to %d bytes succeeded", len(opts), size)
			}
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open(%d options) of a file truncated to %d bytes = %v; want ErrCorrupt naming the file", len(opts), size, err)
			}
		}
	}
}

// Ensure that a zeroed page of the file makes reads, commits and Verify
// return errors wrapping store.ErrCorrupt, never a panic, that the
// committer survives it and commits what does not touch the page, and that
// Verify reports the page.
func TestStore_Commit_DamagedPageFailsTheBatchNotTheProcess(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		path, pageSize, root := newFileOfPages(t)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(make([]byte, pageSize), root*int64(pageSize)); err != nil {
			t.Fatal(err)
		}
		f.Close()

		s := openPathWith(t, path, opts...)
		ctx := t.Context()
		if _, _, err := s.Get(ctx, "p", "k000"); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Get on a zeroed page = %v; want ErrCorrupt", err)
		}
		var last error
		for _, err := range s.Scan(ctx, "p") {
			last = err
		}
		if !errors.Is(last, store.ErrCorrupt) {
			t.Errorf("Scan on a zeroed page ended with %v; want ErrCorrupt", last)
		}
		if _, err := s.Buckets(ctx); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Buckets = %v; want ErrCorrupt", err)
		}
		bad, err := s.Verify(ctx)
		if err != nil || len(bad) == 0 || !strings.HasPrefix(bad[0].Reason, "page") {
			t.Errorf("Verify = %v, %v; want the damaged page reported", bad, err)
		}
		err = s.Commit(ctx, []store.Write{put("p", "k001", 1, rec(2, "y"))})
		if !errors.Is(err, store.ErrCommit) || !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Commit over the zeroed page = %v; want ErrCommit wrapping ErrCorrupt", err)
		}
		mustCommit(t, s, put("q", "elsewhere", 0, rec(1, "z")))
		if r, ok := mustGet(t, s, "q", "elsewhere"); !ok || string(r.State) != "z" {
			t.Errorf("Get(q, elsewhere) = %q, %v; want the commit after the failed one", r.State, ok)
		}
	})
}

// Ensure that Verify reports damage that only bbolt's page check finds: a
// page reachable twice.
func TestStore_Verify_ChecksPages(t *testing.T) {
	path, pageSize, root := newFileOfPages(t)
	s := openPathWith(t, path, boltstore.WithReadOnly())
	if bad, err := s.Verify(t.Context()); err != nil || len(bad) != 0 {
		t.Fatalf("Verify of an intact file = %v, %v; want nothing", bad, err)
	}
	s.Close()
	// Make the root's second child point at its first: both still read as
	// leaves, but a page is reachable twice and records are missing.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := b[root*int64(pageSize):]
	const branchElem = 16 // pos u32, ksize u32, pgid u64
	copy(page[16+branchElem+8:16+branchElem+16], page[16+8:16+16])
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openPathWith(t, path, boltstore.WithReadOnly())
	bad, err := s.Verify(t.Context())
	if err != nil || len(bad) == 0 || !strings.HasPrefix(bad[0].Reason, "page check: ") {
		t.Errorf("Verify = %v, %v; want bbolt's page check to report the page reachable twice", bad, err)
	}
}

// openPathWith opens path with opts and closes it when the test ends; Close
// may report what the damage did to the final checkpoint.
func openPathWith(t *testing.T, path string, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, opts...)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
