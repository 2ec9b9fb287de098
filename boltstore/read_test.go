package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
	bolt "go.etcd.io/bbolt"
)

// damage rewrites the stored value of bucket/key through a raw bbolt handle
// while no Store holds the file.
func damage(t *testing.T, path, bucket, key string, f func(v []byte)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bolt.Open = %v", err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		v := bytes.Clone(b.Get([]byte(key)))
		f(v)
		return b.Put([]byte(key), v)
	})
	if err != nil {
		t.Fatalf("damage: %v", err)
	}
}

// Ensure that damaged records are reported as ErrCorrupt naming bucket and key
// by Get, Scan, Verify and the Expect check, that other keys keep working and
// that Force repairs a damaged record.
func TestStore_Get_CorruptRecord(t *testing.T) {
	eachConfig(t, testCorruptRecord)
}

func testCorruptRecord(t *testing.T, opts ...boltstore.Option) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s,
		put("p", "k1", 0, rec(1, "one")),
		put("p", "k2", 0, rec(1, "two")),
		put("p", "k3", 0, rec(1, "three")),
		put("q", "k1", 0, rec(1, "fine")),
	)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	damage(t, path, "p", "k1", func(v []byte) { v[len(v)-1] ^= 0x01 })
	damage(t, path, "p", "k3", func(v []byte) { v[0] = 9 })
	s = reopen(t, path, opts...)
	ctx := context.Background()

	for k, reason := range map[string]string{"k1": "checksum", "k3": "format"} {
		_, ok, err := s.Get(ctx, "p", k)
		var ce *store.CorruptError
		if !errors.Is(err, store.ErrCorrupt) || !errors.As(err, &ce) {
			t.Fatalf("Get(p, %s) = %v; want a *CorruptError", k, err)
		}
		if ok || ce.Bucket != "p" || ce.Key != k || !strings.Contains(ce.Reason, reason) {
			t.Errorf("Get(p, %s) = %v, found %v; want bucket p key %s reason %q", k, err, ok, k, reason)
		}
		if !strings.Contains(err.Error(), `"p"`) || !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not name bucket and key", err)
		}
	}
	if r, ok := mustGet(t, s, "p", "k2"); !ok || string(r.State) != "two" {
		t.Errorf("Get(p, k2) = %+v, %v; want the intact record", r, ok)
	}
	if r, ok := mustGet(t, s, "q", "k1"); !ok || string(r.State) != "fine" {
		t.Errorf("Get(q, k1) = %+v, %v; want the intact record", r, ok)
	}

	bad, err := s.Verify(ctx)
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	var keys []string
	for _, ce := range bad {
		keys = append(keys, ce.Bucket+"/"+ce.Key)
	}
	if !slices.Equal(keys, []string{"p/k1", "p/k3"}) {
		t.Errorf("Verify listed %v; want [p/k1 p/k3]", keys)
	}

	var scanned []string
	var scanErrs int
	for kr, err := range s.Scan(ctx, "p") {
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("Scan yielded %v; want only ErrCorrupt errors", err)
			}
			scanErrs++
		}
		scanned = append(scanned, kr.Key)
	}
	if !slices.Equal(scanned, []string{"k1", "k2", "k3"}) || scanErrs != 2 {
		t.Errorf("Scan keys %v with %d errors; want [k1 k2 k3] with 2 errors", scanned, scanErrs)
	}
	// Keys reads no state, so damage is no error to it.
	if got := keysAll(t, s, "p"); !slices.Equal(got, []string{"k1", "k2", "k3"}) {
		t.Errorf("Keys = %v; want [k1 k2 k3]", got)
	}

	// A write over a damaged record fails alone; Force repairs it.
	err = s.Commit(ctx, []store.Write{put("p", "k1", 1, rec(2, "x"))})
	if !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Commit over damaged record = %v; want ErrCorrupt", err)
	}
	w := put("p", "k1", 0, rec(5, "repaired"))
	w.Force = true
	mustCommit(t, s, w)
	if r, _ := mustGet(t, s, "p", "k1"); r.Version != 5 || string(r.State) != "repaired" {
		t.Errorf("Get after Force = %+v; want version 5", r)
	}
	if st := s.Stats(); st.Corrupt != 1 {
		t.Errorf("Stats.Corrupt = %d; want 1", st.Corrupt)
	}
}

// Ensure that Scan walks a bucket in key order with copies of the states, and
// stops when the loop breaks or the context ends.
func TestStore_Scan_KeyOrder(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync())
	ctx := context.Background()
	mustCommit(t, s, put("p", "b", 0, rec(1, "B")), put("p", "a", 0, rec(2, "A")), put("p", "c", 0, rec(3, "C")), put("other", "x", 0, rec(1, "")))
	var got []string
	for kr, err := range s.Scan(ctx, "p") {
		if err != nil {
			t.Fatalf("Scan = %v", err)
		}
		got = append(got, kr.Key+"="+string(kr.Record.State))
	}
	if !slices.Equal(got, []string{"a=A", "b=B", "c=C"}) {
		t.Errorf("Scan = %v; want [a=A b=B c=C]", got)
	}
	n := 0
	for range s.Scan(ctx, "p") {
		n++
		break
	}
	if n != 1 {
		t.Errorf("Scan after break yielded %d; want 1", n)
	}
	for _, err := range s.Scan(ctx, "absent") {
		t.Errorf("Scan(absent) yielded %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var last error
	for _, err := range s.Scan(cctx, "p") {
		last = err
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("Scan(cancelled) ended with %v; want context.Canceled", last)
	}
	for _, err := range s.Scan(ctx, "") {
		if !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("Scan(\"\") = %v; want ErrInvalidBucket", err)
		}
	}
}

// Ensure that Buckets lists every bucket with its key count, from the log
// before a checkpoint, and with the size of its pages after one.
func TestStore_Buckets_Counts(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync())
	ctx := context.Background()
	if bs, err := s.Buckets(ctx); err != nil || len(bs) != 0 {
		t.Fatalf("Buckets(empty) = %v, %v; want none", bs, err)
	}
	mustCommit(t, s, put("b", "1", 0, rec(1, "x")), put("b", "2", 0, rec(1, "x")), put("a", "1", 0, rec(1, "x")))
	check := func() []boltstore.BucketInfo {
		t.Helper()
		bs, err := s.Buckets(ctx)
		if err != nil {
			t.Fatalf("Buckets = %v", err)
		}
		if len(bs) != 2 || bs[0].Name != "a" || bs[0].Keys != 1 || bs[1].Name != "b" || bs[1].Keys != 2 {
			t.Fatalf("Buckets = %+v; want a:1 b:2", bs)
		}
		return bs
	}
	check()
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for _, b := range check() {
		if b.Bytes <= 0 || b.InUse <= 0 || b.InUse > b.Bytes {
			t.Errorf("bucket %s: Bytes %d InUse %d; want 0 < InUse <= Bytes", b.Name, b.Bytes, b.InUse)
		}
	}
}

// Ensure that Scan and Keys merge the log's records with the file's in key
// order, across chunks: records only in the log, replaced in the log,
// deleted in the log, and only in the file, all without a checkpoint.
func TestStore_Scan_MergesLogWithFile(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		s := openStore(t, opts...)
		ctx := context.Background()
		type want struct {
			version uint64
			state   string
		}
		model := map[string]want{}
		var writes []store.Write
		for i := range 600 {
			k := fmt.Sprintf("k%04d", i)
			writes = append(writes, put("p", k, 0, rec(1, k)))
			model[k] = want{1, k}
		}
		mustCommit(t, s, writes...)
		if err := s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		// In the log only, in several frames: deletes and replacements of
		// the file's records, new keys between, before and after them.
		writes = writes[:0]
		for i := range 600 {
			k := fmt.Sprintf("k%04d", i)
			switch {
			case i%3 == 0:
				writes = append(writes, store.Write{Bucket: "p", Key: k, Expect: 1, Delete: true})
				delete(model, k)
			case i%5 == 0:
				writes = append(writes, put("p", k, 1, rec(2, "new"+k)))
				model[k] = want{2, "new" + k}
			}
			if i%7 == 0 {
				writes = append(writes, put("p", k+"+", 0, rec(1, "ins")))
				model[k+"+"] = want{1, "ins"}
			}
			if len(writes) >= 100 {
				mustCommit(t, s, writes...)
				writes = writes[:0]
			}
		}
		mustCommit(t, s, append(writes, put("p", "a", 0, rec(1, "first")), put("p", "z", 0, rec(1, "last")))...)
		model["a"], model["z"] = want{1, "first"}, want{1, "last"}
		fresh := make([]store.Write, 300)
		for i := range fresh {
			fresh[i] = put("fresh", fmt.Sprintf("f%04d", i), 0, rec(1, "f"))
		}
		mustCommit(t, s, fresh...)

		before := s.Stats()
		var wantScan []string
		keys := slices.Sorted(maps.Keys(model))
		for _, k := range keys {
			wantScan = append(wantScan, fmt.Sprintf("%s=%d:%s", k, model[k].version, model[k].state))
		}
		if got := scanAll(t, s, "p"); !slices.Equal(got, wantScan) {
			t.Errorf("Scan(p) yielded %d records, first differences:\n%s", len(got), firstDiff(got, wantScan))
		}
		if got := keysAll(t, s, "p"); !slices.Equal(got, keys) {
			t.Errorf("Keys(p) yielded %d keys, first differences:\n%s", len(got), firstDiff(got, keys))
		}
		if got := keysAll(t, s, "fresh"); len(got) != len(fresh) || got[0] != "f0000" || got[len(got)-1] != "f0299" {
			t.Errorf("Keys(fresh) yielded %d keys; want f0000..f0299", len(got))
		}
		bs, err := s.Buckets(ctx)
		if err != nil || len(bs) != 2 || bs[0].Keys != len(fresh) || bs[1].Keys != len(model) {
			t.Errorf("Buckets = %+v, %v; want fresh:%d p:%d", bs, err, len(fresh), len(model))
		}
		if bad, err := s.Verify(ctx); err != nil || len(bad) != 0 {
			t.Errorf("Verify = %v, %v; want no damage", bad, err)
		}
		after := s.Stats()
		if after.Checkpoints != before.Checkpoints || after.LogBytes != before.LogBytes {
			t.Errorf("reads changed Checkpoints %d -> %d, LogBytes %d -> %d; want no checkpoint",
				before.Checkpoints, after.Checkpoints, before.LogBytes, after.LogBytes)
		}
	})
}

// firstDiff describes where got and want first differ.
func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("at %d: got %q, want %q", i, g, w)
		}
	}
	return "none"
}

// Ensure that Scan and Keys yield every record committed before they were
// called exactly once, in key order, while their loop bodies commit newer
// versions and checkpoints move the log into the file between chunks.
func TestStore_Scan_ConcurrentCommitsAndCheckpoints(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync())
	ctx := context.Background()
	const n = 700
	versions := make([]uint64, n)
	for i := range n {
		mustCommit(t, s, put("p", fmt.Sprintf("k%04d", i), 0, rec(1, "v")))
		versions[i] = 1
		if i == n/2 {
			if err := s.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	// bump commits a newer version of the 50 keys after i and, every other
	// time, checkpoints.
	bump := func(i int) {
		t.Helper()
		var writes []store.Write
		for j := i + 1; j < min(i+51, n); j++ {
			writes = append(writes, put("p", fmt.Sprintf("k%04d", j), versions[j], rec(versions[j]+1, "v")))
			versions[j]++
		}
		if len(writes) > 0 {
			mustCommit(t, s, writes...)
		}
		if i%200 == 0 {
			if err := s.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	i := 0
	for kr, err := range s.Scan(ctx, "p") {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("k%04d", i); kr.Key != want {
			t.Fatalf("Scan record %d = %s; want %s", i, kr.Key, want)
		}
		if i%100 == 0 {
			bump(i)
		}
		i++
	}
	if i != n {
		t.Fatalf("Scan yielded %d records; want %d", i, n)
	}
	i = 0
	for k, err := range s.Keys(ctx, "p") {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("k%04d", i); k != want {
			t.Fatalf("Keys key %d = %s; want %s", i, k, want)
		}
		if i%100 == 0 {
			bump(i)
		}
		i++
	}
	if i != n {
		t.Fatalf("Keys yielded %d keys; want %d", i, n)
	}
	if s.Stats().Checkpoints < 4 {
		t.Fatalf("Checkpoints = %d; the scans did not run across checkpoints", s.Stats().Checkpoints)
	}
}
