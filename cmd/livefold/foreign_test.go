package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// addForeignBucket adds to the file at path a bucket of plain values, as
// another program sharing the file would.
func addForeignBucket(t *testing.T, path, name string, keys ...string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte(name))
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Put([]byte(k), []byte("plain text")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Ensure that keys and get say in one line that a bucket another program
// wrote is not a livefold projection, with the record count that
// projections and verify give, instead of listing every record as damaged.
func TestRun_KeysGet_ForeignProjectionOneLine(t *testing.T) {
	path := newForeignFile(t)
	for _, args := range [][]string{
		{"keys", path, "users"},
		{"keys", "-json", path, "users"},
		{"get", path, "users", "user07"},
	} {
		r := mustRun(t, 1, args...)
		if r.stdout != "" {
			t.Errorf("livefold %s printed\n%s\nwant nothing on stdout", strings.Join(args, " "), r.stdout)
		}
		want := "livefold: not a livefold projection: users of " + path + " holds 50 record(s), none of them a livefold record"
		if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, want) {
			t.Errorf("livefold %s: stderr = %q; want one line starting %q", strings.Join(args, " "), r.stderr, want)
		}
	}
}

// Ensure that projections lists a foreign file's buckets with the counts
// verify gives, says in one line per bucket that it is not livefold's, and
// exits with status 1 because the file is not a livefold file.
func TestRun_Projections_ForeignFile(t *testing.T) {
	path := newForeignFile(t)
	r := mustRun(t, 1, "projections", path)
	for _, want := range []string{
		"users       50",
		"not a livefold projection: users: none of its 50 record(s) is a livefold record",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("projections printed\n%s\nwant it to contain %q", r.stdout, want)
		}
	}
	if !strings.Contains(r.stderr, "not a livefold file: "+path+" is a bbolt file, but none of its 1 projection(s)") {
		t.Errorf("stderr = %q; want the file called not a livefold file", r.stderr)
	}

	r = mustRun(t, 1, "projections", "-json", path)
	var got []projectionInfo
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("projections -json: %v\n%s", err, r.stdout)
	}
	if len(got) != 1 || got[0].Name != "users" || got[0].Keys != 50 || !got[0].NotLivefold {
		t.Errorf("projections -json = %+v; want users with 50 keys, not livefold", got)
	}
}

// Ensure that a foreign bucket in a livefold file is pointed out by
// projections, which still succeeds, while the livefold projections are
// listed and read as usual.
func TestRun_Projections_ForeignBucketInLivefoldFile(t *testing.T) {
	path := newTestFile(t)
	addForeignBucket(t, path, "other.app", "a", "b", "c")
	r := mustRun(t, 0, "projections", path)
	if !strings.Contains(r.stdout, "not a livefold projection: other.app: none of its 3 record(s)") {
		t.Errorf("projections printed\n%s\nwant other.app called not a livefold projection", r.stdout)
	}
	if strings.Count(r.stdout, "not a livefold projection") != 1 {
		t.Errorf("projections printed\n%s\nwant only other.app called not livefold", r.stdout)
	}
	mustRun(t, 0, "keys", path, projA)
	mustRun(t, 1, "keys", path, "other.app")
}

// Ensure that one damaged record does not make its projection foreign: keys
// still lists it as damaged beside the others.
func TestRun_Keys_DamagedFirstRecordIsNotForeign(t *testing.T) {
	path := newTestFile(t)
	damageRecord(t, path, projA, "-neg") // the first key in byte order
	r := mustRun(t, 1, "keys", path, projA)
	if !strings.Contains(r.stdout, "DAMAGED") || !strings.Contains(r.stdout, "alpha") {
		t.Errorf("keys printed\n%s\nwant the damaged record beside the others", r.stdout)
	}
	if strings.Contains(r.stderr, "not a livefold projection") {
		t.Errorf("stderr = %q; want damage, not a foreign projection", r.stderr)
	}
}
