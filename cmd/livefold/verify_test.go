package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Ensure that verify passes an undamaged file.
func TestRun_Verify_CleanFileExits0(t *testing.T) {
	path := newTestFile(t)
	r := mustRun(t, 0, "verify", path)
	if !strings.Contains(r.stdout, "verified 4 record(s) in 2 projection(s): ok") {
		t.Errorf("verify printed %q; want 4 records in 2 projections ok", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("verify wrote %q to stderr, which is not a terminal; want nothing", r.stderr)
	}
}

// Ensure that verify lists every damaged record with projection, key and
// reason, and exits 1.
func TestRun_Verify_ListsDamagedRecordsAndExits1(t *testing.T) {
	path := newTestFile(t)
	damageRecord(t, path, projA, "beta")
	damageRecord(t, path, projB, "gamma")

	r := mustRun(t, 1, "verify", path)
	for _, want := range []string{
		"damaged: projection test.counters key beta: checksum mismatch",
		"damaged: projection test.other key gamma: checksum mismatch",
		"2 damaged record(s)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify printed\n%s\nwant it to contain %q", r.stdout, want)
		}
	}
	if !strings.Contains(r.stderr, "damaged records found: 2 of 4") {
		t.Errorf("stderr = %q; want the number of damaged records", r.stderr)
	}

	r = mustRun(t, 1, "verify", "-json", path)
	var got verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("verify -json is not JSON: %v\n%s", err, r.stdout)
	}
	if got.Records != 4 || len(got.Damaged) != 2 || len(got.PageErrors) != 0 {
		t.Fatalf("verify -json = %+v; want 4 records, 2 damaged, no page errors", got)
	}
	if d := got.Damaged[0]; d.Projection != projA || d.Key != "beta" || !strings.Contains(d.Reason, "checksum") {
		t.Errorf("damaged[0] = %+v; want %s beta with a checksum reason", d, projA)
	}
}

// Ensure that -progress draws a progress line on stderr that ends complete,
// and that stdout is unaffected.
func TestRun_Verify_ProgressOnStderr(t *testing.T) {
	path := newTestFile(t)
	r := mustRun(t, 0, "verify", "-progress", path)
	if !strings.HasPrefix(r.stderr, "\r") || !strings.HasSuffix(r.stderr, "\n") ||
		!strings.Contains(r.stderr, "100% 4/4 records") {
		t.Errorf("stderr = %q; want a \\r progress line ending at 100%% 4/4 records", r.stderr)
	}
	if !strings.Contains(r.stdout, ": ok") || strings.Contains(r.stdout, "\r") {
		t.Errorf("stdout = %q; want only the result", r.stdout)
	}
	r = mustRun(t, 0, "verify", "-progress=false", path)
	if r.stderr != "" {
		t.Errorf("verify -progress=false wrote %q to stderr; want nothing", r.stderr)
	}
}

// Ensure that a damaged bbolt page is reported, not a crash: verify lists
// page errors and exits 1, keys fails with a damaged-file error.
func TestRun_Verify_DamagedPageReportedNotCrashed(t *testing.T) {
	path := newTestFile(t)
	var evs []added
	for i := range 200 {
		evs = append(evs, added{Key: fmt.Sprintf("k%04d", i), N: 1, Tag: strings.Repeat("t", 100)})
	}
	writeEvents(t, path, map[string][]added{projA: evs})
	zeroLeafPage(t, path)

	r := mustRun(t, 1, "verify", path)
	if !strings.Contains(r.stdout, "page error: ") || !strings.Contains(r.stderr, "damaged file") {
		t.Errorf("verify printed\n%s\nstderr %q; want page errors and a damaged file error", r.stdout, r.stderr)
	}
	r = mustRun(t, 1, "keys", path, projA)
	if !strings.Contains(r.stderr, "damaged") {
		t.Errorf("keys: stderr = %q; want a damaged file error", r.stderr)
	}
}

// zeroLeafPage overwrites the first leaf page of the file with zeros, as a
// torn write could.
func zeroLeafPage(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	var leaf int64 = -1
	pageSize := db.Info().PageSize
	err = db.View(func(tx *bolt.Tx) error {
		for id := 2; int64(id)*int64(pageSize) < tx.Size(); id++ {
			pi, err := tx.Page(id)
			if err != nil {
				return err
			}
			if pi != nil && pi.Type == "leaf" {
				leaf = int64(id)
				return nil
			}
		}
		return nil
	})
	db.Close()
	if err != nil || leaf < 0 {
		t.Fatalf("finding a leaf page: %v (found %d)", err, leaf)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, pageSize), leaf*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
}

// newForeignFile returns the path of a bbolt file that livefold did not
// write: one bucket of 50 JSON values.
func newForeignFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "foreign.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("users"))
		if err != nil {
			return err
		}
		for i := range 50 {
			if err := b.Put([]byte(fmt.Sprintf("user%02d", i)), []byte(fmt.Sprintf(`{"id":%d}`, i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("filling the foreign file: %v", err)
	}
	return path
}

// Ensure that a bbolt file livefold did not write is reported as not a
// livefold file, its bucket once, not as a livefold file damaged record by
// record.
func TestRun_Verify_ForeignFileNotListedRecordByRecord(t *testing.T) {
	path := newForeignFile(t)
	r := mustRun(t, 1, "verify", path)
	if strings.Contains(r.stdout, "damaged: ") || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("verify printed\n%s\nwant one line for the bucket and the status, no damaged records", r.stdout)
	}
	if !strings.Contains(r.stdout, "not a livefold projection: users: none of its 50 record(s)") {
		t.Errorf("verify printed\n%s\nwant the bucket reported as not a livefold projection", r.stdout)
	}
	if !strings.Contains(r.stderr, "not a livefold file") {
		t.Errorf("stderr = %q; want not a livefold file", r.stderr)
	}

	r = mustRun(t, 1, "verify", "-json", path)
	var got verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("verify -json is not JSON: %v\n%s", err, r.stdout)
	}
	if len(got.Damaged) != 0 || len(got.NotLivefold) != 1 || got.NotLivefold[0].Projection != "users" ||
		got.NotLivefold[0].Records != 50 || got.Records != 50 {
		t.Errorf("verify -json = %+v; want users as not livefold with 50 records, none damaged", got)
	}
}

// Ensure that a foreign bucket in a livefold file is reported once beside
// the livefold projections' damaged records, and the file is still called
// damaged rather than foreign.
func TestRun_Verify_ForeignBucketInLivefoldFile(t *testing.T) {
	path := newTestFile(t)
	damageRecord(t, path, projB, "gamma")
	addForeignBucket(t, path, "other.app", "a", "b", "c")

	r := mustRun(t, 1, "verify", path)
	for _, want := range []string{
		"not a livefold projection: other.app: none of its 3 record(s)",
		"damaged: projection test.other key gamma: checksum mismatch",
		"1 damaged record(s), 0 page error(s), 1 projection(s) not written by livefold",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify printed\n%s\nwant it to contain %q", r.stdout, want)
		}
	}
	if !strings.Contains(r.stderr, "damaged records found: 1 of 7") {
		t.Errorf("stderr = %q; want damaged records found: 1 of 7", r.stderr)
	}
}
