package main

import (
	"encoding/json"
	"regexp"
	"testing"
)

// Ensure that stats reports the file, page size, per-projection counts and
// the total of records.
func TestRun_Stats_ReportsFileAndProjections(t *testing.T) {
	path := newTestFile(t)
	r := mustRun(t, 0, "stats", "-json", path)
	var got statsReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stats -json is not JSON: %v\n%s", err, r.stdout)
	}
	if got.FileBytes != int64(len(fileBytes(t, path))) || got.PageSize <= 0 || got.TxID <= 0 {
		t.Errorf("stats = %+v; want the file's size, a page size and a tx id", got)
	}
	if got.TotalRecords != 4 || got.Total.Keys != 4 || len(got.Projections) != 2 {
		t.Fatalf("stats = %+v; want 4 records in 2 projections", got)
	}
	if got.Projections[0].Name != projA || got.Projections[0].Keys != 3 || got.Projections[1].Keys != 1 {
		t.Errorf("projections = %+v; want %s with 3 keys, %s with 1", got.Projections, projA, projB)
	}

	r = mustRun(t, 0, "stats", path)
	for _, want := range []string{`file size\s+\d+`, `page size\s+\d+`, `total records\s+4\n`,
		`(?m)^test\.counters\s+3\s`, `(?m)^test\.other\s+1\s`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("stats printed\n%s\nwant it to match %s", r.stdout, want)
		}
	}
}
