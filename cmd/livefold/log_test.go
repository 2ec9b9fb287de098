package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/livefold/livefold/boltstore"
)

// Ensure that log lists the frames of a leftover log, those Open replays,
// in text and JSON, and changes neither file.
func TestRun_Log_ListsFrames(t *testing.T) {
	path := newCrashedFile(t)
	check := unchanged(t, path)
	r := mustRun(t, 0, "log", "-v", path)
	if n := strings.Count(r.stdout, " replay "); n != crashedLogRecords {
		t.Errorf("log printed %d frames to replay; want %d:\n%s", n, crashedLogRecords, r.stdout)
	}
	for _, want := range []string{"delete " + projA + " beta", projLate + " omega version 1", "Open replays 3 write(s)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("log -v printed\n%s\nwant it to contain %q", r.stdout, want)
		}
	}
	r = mustRun(t, 0, "log", "-json", path)
	if r2 := mustRun(t, 2, "log", "-salvage", path); !strings.Contains(r2.stderr, "nothing to salvage") {
		t.Errorf("log -salvage of an intact log: stderr = %q; want nothing to salvage", r2.stderr)
	}
	check("log")
	var got logReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("log -json is not JSON: %v\n%s", err, r.stdout)
	}
	if got.Replay != crashedLogRecords || len(got.Frames) != crashedLogRecords || got.Frames[0].State != "replay" ||
		got.Frames[0].Writes[0].Key != "alpha" || got.Frames[0].Writes[0].Version != 9 {
		t.Errorf("log -json = %+v; want 3 frames to replay, alpha at version 9 first", got)
	}
}

// Ensure that log reports a damaged log (exit status 1, the damaged frame's
// writes as lost), and that log -salvage keeps a copy of it and replays the
// intact frames into the file, losing only the damaged one.
func TestRun_Log_DamagedThenSalvaged(t *testing.T) {
	path := newCrashedFile(t)
	rep, err := boltstore.InspectLog(path)
	if err != nil || len(rep.Frames) < 3 {
		t.Fatalf("InspectLog = %+v, %v", rep, err)
	}
	wal := fileBytes(t, path+"-wal")
	wal[rep.Frames[1].Offset+40] ^= 0x01 // the delete of beta
	if err := os.WriteFile(path+"-wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}

	check := unchanged(t, path)
	r := mustRun(t, 1, "log", path)
	check("log")
	for _, want := range []string{"damaged", "beta", "Open refuses it", "-salvage"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("log of a damaged log printed\n%s\nwant it to contain %q", r.stdout, want)
		}
	}
	if !strings.Contains(r.stderr, "damaged at offset") {
		t.Errorf("stderr = %q; want the damage's offset", r.stderr)
	}
	mustRun(t, 1, "projections", path) // the read-only open refuses it too

	r = mustRun(t, 0, "log", "-salvage", path)
	if !strings.Contains(r.stdout, "salvaged: 2 write(s)") {
		t.Errorf("log -salvage printed\n%s\nwant 2 writes replayed", r.stdout)
	}
	if kept := fileBytes(t, path+"-wal.damaged"); string(kept) != string(wal) {
		t.Error("the copy of the damaged log differs from it")
	}
	if got := getJSON(t, path, projA, "alpha"); got["version"] != 9.0 {
		t.Errorf("alpha after salvage = version %v; want 9, from the frame before the damage", got["version"])
	}
	if got := getJSON(t, path, projLate, "omega"); got["version"] != 1.0 {
		t.Errorf("omega after salvage = version %v; want 1, from the frame after the damage", got["version"])
	}
	if got := getJSON(t, path, projA, "beta"); got["version"] != 1.0 {
		t.Errorf("beta after salvage = version %v; want its version before the lost delete", got["version"])
	}
	// Close folded the log into the file and removed it.
	r = mustRun(t, 1, "log", "-salvage", path)
	if !strings.Contains(r.stderr, "no write-ahead log") {
		t.Errorf("a second salvage: stderr = %q; want no log left", r.stderr)
	}
}

// Ensure that log of a file without a log says so and creates none.
func TestRun_Log_NoLog(t *testing.T) {
	path := newTestFile(t)
	r := mustRun(t, 1, "log", path)
	if !strings.Contains(r.stderr, "no write-ahead log") {
		t.Errorf("stderr = %q; want no write-ahead log", r.stderr)
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("log created a log beside the file (stat: %v)", err)
	}
}
