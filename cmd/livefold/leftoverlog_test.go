package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
	"github.com/vmihailenco/msgpack/v5"
)

// projLate is a projection that exists only in the leftover log.
const projLate = "test.late"

// crashedLogRecords is how many records the log of newCrashedFile holds.
const crashedLogRecords = 3

// newCrashedFile returns the path of what a kill -9 of an application leaves:
// newTestFile's file, then three commits that are durable in the log and
// missing from the file (alpha of projA rewritten at version 9 with Count 42,
// beta of projA deleted, omega of the new projection projLate at version 1),
// copied with its log while the store that wrote them was still open.
func newCrashedFile(t *testing.T) string {
	t.Helper()
	path := newTestFile(t)
	st, err := boltstore.Open(path, boltstore.WithNoSync())
	if err != nil {
		t.Fatalf("boltstore.Open: %v", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	}()
	state := func(c counter) []byte {
		b, err := msgpack.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, w := range []store.Write{
		{Bucket: projA, Key: "alpha", Force: true,
			Record: store.Record{Version: 9, UpdatedAt: testClock, Position: 90, State: state(counter{Count: 42})}},
		{Bucket: projA, Key: "beta", Force: true, Delete: true},
		{Bucket: projLate, Key: "omega",
			Record: store.Record{Version: 1, UpdatedAt: testClock, State: state(counter{Count: 1})}},
	} {
		if err := st.Commit(t.Context(), []store.Write{w}); err != nil {
			t.Fatalf("Commit(%s/%s): %v", w.Bucket, w.Key, err)
		}
	}

	crashed := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		if err := os.WriteFile(crashed+suffix, fileBytes(t, path+suffix), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return crashed
}

// unchanged fails the test unless path and its log hold what they held when
// it was called; call it before a command and the returned func after.
func unchanged(t *testing.T, path string) func(cmd string) {
	t.Helper()
	db, wal := fileBytes(t, path), fileBytes(t, path+"-wal")
	return func(cmd string) {
		t.Helper()
		if !bytes.Equal(fileBytes(t, path), db) {
			t.Errorf("%s changed the file", cmd)
		}
		if !bytes.Equal(fileBytes(t, path+"-wal"), wal) {
			t.Errorf("%s changed the log", cmd)
		}
	}
}

// wantLogNote fails the test unless stderr tells that the log holds n
// records the file lacks and how to fold them in.
func wantLogNote(t *testing.T, cmd, stderr string, n int) {
	t.Helper()
	for _, want := range []string{"-wal2) holds " + strconv.Itoa(n) + " record(s)", "boltstore.Open"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("%s: stderr = %q; want it to contain %q", cmd, stderr, want)
		}
	}
}

// Ensure that projections, keys and get show the commits a leftover log holds
// (replayed in memory), point the log out, and change neither file.
func TestRun_LeftoverLog_ReadCommandsShowIt(t *testing.T) {
	path := newCrashedFile(t)

	check := unchanged(t, path)
	r := mustRun(t, 0, "projections", "-json", path)
	check("projections")
	wantLogNote(t, "projections", r.stderr, crashedLogRecords)
	var infos []projectionInfo
	if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil {
		t.Fatalf("projections -json is not JSON: %v\n%s", err, r.stdout)
	}
	var names []string
	for _, p := range infos {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != projA+","+projLate+","+projB {
		t.Errorf("projections = %v; want %s, %s (which only the log has) and %s", names, projA, projLate, projB)
	}
	if infos[0].Keys != 2 || infos[1].Keys != 1 {
		t.Errorf("projections = %+v; want 2 keys in %s (beta deleted by the log) and 1 in %s", infos, projA, projLate)
	}

	check = unchanged(t, path)
	got := keysJSON(t, 0, path, projA)
	check("keys")
	if len(got) != 2 || got[0].Key != "-neg" || got[1].Key != "alpha" || got[1].Version != 9 || got[1].Position != 90 {
		t.Errorf("keys = %+v; want -neg and alpha at version 9 (beta deleted by the log)", got)
	}

	check = unchanged(t, path)
	r = mustRun(t, 0, "get", path, projA, "alpha")
	check("get")
	wantLogNote(t, "get", r.stderr, crashedLogRecords)
	var snap map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &snap); err != nil {
		t.Fatalf("get printed no JSON: %v\n%s", err, r.stdout)
	}
	if state, _ := snap["state"].(map[string]any); snap["version"] != 9.0 || state["Count"] != 42.0 {
		t.Errorf("get = %v; want version 9 with Count 42 from the log", snap)
	}
	check = unchanged(t, path)
	mustRun(t, 1, "get", path, projA, "beta")
	getJSON(t, path, projLate, "omega")
	check("get")
}

// Ensure that verify never says ok while the log holds commits the file
// lacks: it verifies what the store would read, says how many records the
// log holds and how to fold them in, exits 1, and changes neither file.
func TestRun_LeftoverLog_VerifyNotOk(t *testing.T) {
	path := newCrashedFile(t)
	check := unchanged(t, path)
	r := mustRun(t, 1, "verify", path)
	check("verify")
	if strings.Contains(r.stdout, ": ok") {
		t.Errorf("verify printed %q; want no ok while the log holds commits", r.stdout)
	}
	if !strings.Contains(r.stdout, "verified 4 record(s) in 3 projection(s)") {
		t.Errorf("verify printed %q; want the 4 records of the merged view in 3 projections", r.stdout)
	}
	wantLogNote(t, "verify", r.stdout+r.stderr, crashedLogRecords)

	check = unchanged(t, path)
	r = mustRun(t, 1, "verify", "-json", path)
	check("verify -json")
	var got verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("verify -json is not JSON: %v\n%s", err, r.stdout)
	}
	if got.LogRecords != crashedLogRecords || got.Records != 4 || len(got.Damaged) != 0 {
		t.Errorf("verify -json = %+v; want %d log records, 4 records, none damaged", got, crashedLogRecords)
	}
}

// Ensure that compact refuses to write a copy while the log holds commits
// the file lacks, saying how to fold them in, creates no DEST and changes
// neither file; and that once the store was opened and closed the copy has
// the log's commits.
func TestRun_LeftoverLog_CompactRefuses(t *testing.T) {
	path := newCrashedFile(t)
	dest := filepath.Join(t.TempDir(), "compact.db")
	check := unchanged(t, path)
	r := mustRun(t, 1, "compact", path, dest)
	check("compact")
	wantLogNote(t, "compact", r.stderr, crashedLogRecords)
	if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("compact refused but left %s (stat: %v)", dest, err)
	}

	st, err := boltstore.Open(path, boltstore.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, 0, "compact", path, dest)
	if strings.Contains(r.stderr, "-wal") {
		t.Errorf("compact after folding the log: stderr = %q; want no note", r.stderr)
	}
	if got := getJSON(t, dest, projA, "alpha"); got["version"] != 9.0 {
		t.Errorf("the copy has alpha at version %v; want 9 from the folded log", got["version"])
	}
}

// Ensure that stats counts the records of the log and points it out,
// changing neither file.
func TestRun_LeftoverLog_StatsCountsIt(t *testing.T) {
	path := newCrashedFile(t)
	check := unchanged(t, path)
	r := mustRun(t, 0, "stats", "-json", path)
	check("stats")
	wantLogNote(t, "stats", r.stderr, crashedLogRecords)
	var got statsReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stats -json is not JSON: %v\n%s", err, r.stdout)
	}
	if got.LogRecords != crashedLogRecords {
		t.Errorf("stats log_records = %d; want %d", got.LogRecords, crashedLogRecords)
	}
}

// Ensure that a log with no complete frame (a torn first write) is not
// pointed out, and that no command creates a log beside a clean file.
func TestRun_EmptyLog_NoNoteAndNoneCreated(t *testing.T) {
	path := newTestFile(t)
	dest := filepath.Join(t.TempDir(), "dest.db")
	for _, args := range commandLines(path, dest) {
		r := mustRun(t, 0, args...)
		if strings.Contains(r.stderr, "-wal") {
			t.Errorf("%s: stderr = %q for a clean file; want no note", args[0], r.stderr)
		}
		if _, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s created a log beside the file (stat: %v)", args[0], err)
		}
	}
	if err := os.WriteFile(path+"-wal", []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, 0, "projections", path)
	if strings.Contains(r.stderr, "-wal") {
		t.Errorf("stderr = %q for a log without a frame; want no note", r.stderr)
	}
}
