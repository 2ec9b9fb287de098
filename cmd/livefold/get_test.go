package main

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
)

// getJSON runs get and decodes its output.
func getJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	r := mustRun(t, 0, append([]string{"get"}, args...)...)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("get printed no JSON: %v\n%s", err, r.stdout)
	}
	return got
}

// Ensure that get prints the snapshot's fields and its state decoded
// generically: struct fields by name, []byte as base64, integer map keys as
// strings.
func TestRun_Get_PrintsSnapshotJSON(t *testing.T) {
	path := newTestFile(t)
	got := getJSON(t, path, projA, "alpha")
	for k, want := range map[string]any{
		"key": "alpha", "version": 3.0, "updated_at": testUpdatedAt, "position": 0.0,
	} {
		if got[k] != want {
			t.Errorf("get %s = %#v; want %#v", k, got[k], want)
		}
	}
	state, ok := got["state"].(map[string]any)
	if !ok {
		t.Fatalf("state = %#v; want an object", got["state"])
	}
	if state["Count"] != 6.0 || state["Ratio"] != 3.0 || state["Blob"] != "3q2+7w==" {
		t.Errorf("state = %#v; want Count 6, Ratio 3, Blob base64 of deadbeef", state)
	}
	if tags, _ := json.Marshal(state["Tags"]); string(tags) != `["a1","a2","a3"]` {
		t.Errorf("state.Tags = %s; want [a1 a2 a3]", tags)
	}
	if byN, _ := json.Marshal(state["ByN"]); string(byN) != `{"1":"a1","2":"a2","3":"a3"}` {
		t.Errorf("state.ByN = %s; want the integer keys as strings", byN)
	}
}

// Ensure that a key starting with "-" can be given after "--".
func TestRun_Get_KeyAfterDoubleDash(t *testing.T) {
	path := newTestFile(t)
	got := getJSON(t, path, projA, "--", "-neg")
	if got["key"] != "-neg" || got["version"] != 1.0 {
		t.Fatalf("get -- -neg = %v; want key -neg version 1", got)
	}
}

// Ensure that get reports a damaged record instead of decoding it.
func TestRun_Get_DamagedRecordReportsCorruption(t *testing.T) {
	path := newTestFile(t)
	damageRecord(t, path, projA, "alpha")
	r := mustRun(t, 1, "get", path, projA, "alpha")
	if r.stdout != "" {
		t.Errorf("get printed %q for a damaged record; want nothing", r.stdout)
	}
	if !strings.Contains(r.stderr, "corrupt record") || !strings.Contains(r.stderr, "checksum") {
		t.Errorf("stderr = %q; want a corrupt record error naming the checksum", r.stderr)
	}
	// The other records are still readable.
	getJSON(t, path, projA, "beta")
}

// Ensure that get reports a missing projection and a missing key.
func TestRun_Get_MissingProjectionOrKey(t *testing.T) {
	path := newTestFile(t)
	r := mustRun(t, 1, "get", path, "no.such", "alpha")
	if !strings.Contains(r.stderr, "projection not found") {
		t.Errorf("stderr = %q; want projection not found", r.stderr)
	}
	r = mustRun(t, 1, "get", path, projA, "nokey")
	if !strings.Contains(r.stderr, "key not found") || !strings.Contains(r.stderr, "nokey") {
		t.Errorf("stderr = %q; want key not found naming nokey", r.stderr)
	}
	// A key that is a prefix of a stored one is not that one.
	mustRun(t, 1, "get", path, projA, "alp")
}

// Ensure that a verified record whose state is not msgpack is printed raw
// with the decoding error, and exits 1.
func TestRun_Get_UndecodableStatePrintedRaw(t *testing.T) {
	path := newRawStateFile(t, []byte{0xc1})
	r := mustRun(t, 1, "get", path, projA, "raw")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("get printed no JSON: %v\n%s", err, r.stdout)
	}
	if got["state"] != nil || got["state_msgpack"] != "wQ==" || got["state_error"] == nil || got["position"] != 9.0 {
		t.Errorf("get = %v; want state null, state_msgpack wQ==, a state_error and position 9", got)
	}
	if !strings.Contains(r.stderr, "state cannot be decoded") {
		t.Errorf("stderr = %q; want state cannot be decoded", r.stderr)
	}
}

// newRawStateFile returns the path of a closed livefold file whose projection
// projA holds the key "raw" at version 2, position 9, with state as its state
// bytes, which the runtime would never have written.
func newRawStateFile(t *testing.T, state []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raw.db")
	st, err := boltstore.Open(path, boltstore.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	err = st.Commit(t.Context(), []store.Write{{
		Bucket: projA, Key: "raw",
		Record: store.Record{Version: 2, Position: 9, UpdatedAt: testClock, State: state},
	}})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Ensure that a state whose msgpack header claims far more than its bytes
// hold (an array of 268 million elements in five bytes) is reported as
// malformed and never makes get allocate what the header claims.
func TestRun_Get_AllocationBombReportedMalformed(t *testing.T) {
	bomb := []byte{0xdd, 0x0f, 0xff, 0xff, 0xff}
	path := newRawStateFile(t, bomb)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := runCLI(t, "get", path, projA, "raw")
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("get allocated %d bytes for a %d-byte state; want at most 1 MiB", n, len(bomb))
	}
	wantCode(t, r, exitError, "get", path, projA, "raw")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("get printed no JSON: %v\n%s", err, r.stdout)
	}
	if got["state"] != nil || got["state_msgpack"] != "3Q////8=" {
		t.Errorf("get = %v; want state null and the raw bytes", got)
	}
	if e, _ := got["state_error"].(string); !strings.Contains(e, "malformed msgpack") {
		t.Errorf("state_error = %q; want it to say malformed msgpack", e)
	}
	if !strings.Contains(r.stderr, "state cannot be decoded") || !strings.Contains(r.stderr, "malformed msgpack") {
		t.Errorf("stderr = %q; want state cannot be decoded: malformed msgpack", r.stderr)
	}
}
