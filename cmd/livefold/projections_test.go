package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// Ensure that projections lists every projection with its key count.
func TestRun_Projections_ListsCountsAndSizes(t *testing.T) {
	path := newTestFile(t)
	r := mustRun(t, 0, "projections", path)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("projections printed %d lines; want header and 2:\n%s", len(lines), r.stdout)
	}
	for i, want := range []struct {
		name string
		keys string
	}{{projA, "3"}, {projB, "1"}} {
		f := strings.Fields(lines[i+1])
		if len(f) != 4 || f[0] != want.name || f[1] != want.keys {
			t.Errorf("line %d = %q; want %s with %s keys and two sizes", i+1, lines[i+1], want.name, want.keys)
		}
	}

	r = mustRun(t, 0, "projections", "-json", path)
	var got []projectionInfo
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("projections -json is not JSON: %v\n%s", err, r.stdout)
	}
	if len(got) != 2 || got[0].Name != projA || got[0].Keys != 3 || got[1].Name != projB || got[1].Keys != 1 {
		t.Fatalf("projections -json = %+v; want %s with 3 keys and %s with 1", got, projA, projB)
	}
	for _, p := range got {
		if p.Bytes <= 0 || p.InUse <= 0 || p.InUse > p.Bytes {
			t.Errorf("%s: bytes %d, in use %d; want 0 < in use <= bytes", p.Name, p.Bytes, p.InUse)
		}
	}
}

// Ensure that reading commands leave the file byte for byte as it was.
func TestRun_ReadCommands_DoNotModifyFile(t *testing.T) {
	path := newTestFile(t)
	before := fileBytes(t, path)
	for _, args := range [][]string{
		{"projections", path},
		{"keys", path, projA},
		{"get", path, projA, "alpha"},
		{"stats", path},
		{"verify", path},
	} {
		mustRun(t, 0, args...)
	}
	if after := fileBytes(t, path); string(after) != string(before) {
		t.Fatal("the file changed although only reading commands ran")
	}
}
