package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Ensure that compact writes a copy with the same records, smaller than a
// file that has free pages, and prints both sizes.
func TestRun_Compact_WritesSmallerCopy(t *testing.T) {
	path := newTestFile(t)
	// Many updates of one key leave free pages behind.
	var evs []added
	for i := range 300 {
		evs = append(evs, added{Key: "hot", N: 1, Tag: strings.Repeat("x", 200) + strconv.Itoa(i)})
	}
	writeEvents(t, path, map[string][]added{projB: evs})
	dest := filepath.Join(t.TempDir(), "compact.db")

	r := mustRun(t, 0, "compact", path, dest)
	m := regexp.MustCompile(`: (\d+) bytes .*\n.*: (\d+) bytes`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("compact printed %q; want the sizes before and after", r.stdout)
	}
	before, _ := strconv.Atoi(m[1])
	after, _ := strconv.Atoi(m[2])
	if before != len(fileBytes(t, path)) || after != len(fileBytes(t, dest)) || after >= before {
		t.Errorf("compact printed %d -> %d; want the real sizes %d -> %d, smaller after",
			before, after, len(fileBytes(t, path)), len(fileBytes(t, dest)))
	}

	mustRun(t, 0, "verify", dest)
	orig := mustRun(t, 0, "get", path, projB, "hot")
	copied := mustRun(t, 0, "get", dest, projB, "hot")
	if orig.stdout != copied.stdout {
		t.Errorf("get from the copy = %s; want %s", copied.stdout, orig.stdout)
	}
	if a, b := mustRun(t, 0, "keys", path, projA), mustRun(t, 0, "keys", dest, projA); a.stdout != b.stdout {
		t.Errorf("keys of the copy:\n%s\nwant\n%s", b.stdout, a.stdout)
	}
}

// Ensure that compact never overwrites an existing destination, not even the
// source itself.
func TestRun_Compact_RefusesExistingDest(t *testing.T) {
	path := newTestFile(t)
	dest := filepath.Join(t.TempDir(), "exists.db")
	if err := os.WriteFile(dest, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, 1, "compact", path, dest)
	if !strings.Contains(r.stderr, "destination exists") {
		t.Errorf("stderr = %q; want destination exists", r.stderr)
	}
	if got := string(fileBytes(t, dest)); got != "keep me" {
		t.Errorf("dest holds %q after a refused compact; want it untouched", got)
	}
	before := fileBytes(t, path)
	mustRun(t, 1, "compact", path, path)
	if string(fileBytes(t, path)) != string(before) {
		t.Error("compact onto the source changed it")
	}
}

// Ensure that compact with -progress reports on stderr and ends complete.
func TestRun_Compact_ProgressOnStderr(t *testing.T) {
	path := newTestFile(t)
	dest := filepath.Join(t.TempDir(), "compact.db")
	r := mustRun(t, 0, "compact", "-progress", path, dest)
	if !strings.Contains(r.stderr, "compact [") || !strings.Contains(r.stderr, "100%") || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr = %q; want a progress line ending at 100%%", r.stderr)
	}
}

// Ensure that compact of a missing source creates neither file.
func TestRun_Compact_MissingSourceCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "missing.db"), filepath.Join(dir, "dest.db")
	mustRun(t, 1, "compact", src, dest)
	for _, p := range []string{src, dest} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s after compact of a missing file: %v; want it not to exist", p, err)
		}
	}
}
