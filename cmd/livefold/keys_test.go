package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// keysJSON runs keys -json with extra args and decodes the listing.
func keysJSON(t *testing.T, code int, args ...string) []keyEntry {
	t.Helper()
	r := mustRun(t, code, append([]string{"keys", "-json"}, args...)...)
	var got []keyEntry
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("keys -json is not JSON: %v\n%s", err, r.stdout)
	}
	return got
}

// Ensure that keys lists every key in order with version and updated_at.
func TestRun_Keys_ListsVersionAndUpdatedAt(t *testing.T) {
	path := newTestFile(t)
	got := keysJSON(t, 0, path, projA)
	want := []struct {
		key     string
		version uint64
	}{{"-neg", 1}, {"alpha", 3}, {"beta", 1}}
	if len(got) != len(want) {
		t.Fatalf("keys = %+v; want %d entries", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Key != w.key || g.Version != w.version || g.UpdatedAt == nil || *g.UpdatedAt != testUpdatedAt || g.Damaged != "" {
			t.Errorf("keys[%d] = %+v; want key %q version %d updated_at %s", i, g, w.key, w.version, testUpdatedAt)
		}
	}

	r := mustRun(t, 0, "keys", path, projA)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "VERSION") {
		t.Fatalf("keys printed:\n%s\nwant a header and 3 lines", r.stdout)
	}
	if f := strings.Fields(lines[2]); len(f) != 3 || f[0] != "3" || f[1] != testUpdatedAt || f[2] != "alpha" {
		t.Errorf("line for alpha = %q; want version 3, %s, alpha", lines[2], testUpdatedAt)
	}
}

// Ensure that -prefix and -limit select keys, with flags before or after the
// arguments.
func TestRun_Keys_PrefixAndLimit(t *testing.T) {
	path := newTestFile(t)
	keysOf := func(es []keyEntry) string {
		var ks []string
		for _, e := range es {
			ks = append(ks, e.Key)
		}
		return strings.Join(ks, ",")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{path, projA, "-prefix", "al"}, "alpha"},
		{[]string{"-prefix", "b", path, projA}, "beta"},
		{[]string{path, "-limit", "2", projA}, "-neg,alpha"},
		{[]string{path, projA, "-prefix", "a", "-limit", "1"}, "alpha"},
		{[]string{path, projA, "-prefix", "zzz"}, ""},
	} {
		if got := keysOf(keysJSON(t, 0, tc.args...)); got != tc.want {
			t.Errorf("keys %v = %q; want %q", tc.args, got, tc.want)
		}
	}
}

// Ensure that keys reports a missing projection and a negative limit.
func TestRun_Keys_Failures(t *testing.T) {
	path := newTestFile(t)
	r := mustRun(t, 1, "keys", path, "no.such")
	if !strings.Contains(r.stderr, "projection not found") || !strings.Contains(r.stderr, projA) {
		t.Errorf("stderr = %q; want projection not found, naming the existing ones", r.stderr)
	}
	mustRun(t, 2, "keys", path, projA, "-limit", "-1")
	mustRun(t, 2, "keys", path, projA, "-limit", "x")
}

// Ensure that keys lists a damaged record as damaged, the others normally,
// and exits 1.
func TestRun_Keys_DamagedRecordListedAndExit1(t *testing.T) {
	path := newTestFile(t)
	damageRecord(t, path, projA, "alpha")
	got := keysJSON(t, 1, path, projA)
	if len(got) != 3 || got[1].Key != "alpha" || !strings.Contains(got[1].Damaged, "checksum") || got[1].Version != 0 {
		t.Fatalf("keys = %+v; want alpha listed as damaged by its checksum", got)
	}
	if got[0].Damaged != "" || got[2].Damaged != "" || got[2].Version != 1 {
		t.Errorf("keys = %+v; want the other records listed normally", got)
	}
	r := mustRun(t, 1, "keys", path, projA)
	if !strings.Contains(r.stdout, "DAMAGED") || !strings.Contains(r.stderr, "damaged records") {
		t.Errorf("keys printed\n%s\nstderr %q; want a DAMAGED line and an error", r.stdout, r.stderr)
	}
}
