package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livefold/livefold/boltstore"
)

// commandLines returns a command line of every command for the file path.
func commandLines(path, dest string) [][]string {
	return [][]string{
		{"projections", path},
		{"keys", path, projA},
		{"get", path, projA, "alpha"},
		{"stats", path},
		{"verify", path},
		{"compact", path, dest},
	}
}

// Ensure that every command reports a missing file and does not create it.
func TestRun_MissingFile_ReportedAndNotCreated(t *testing.T) {
	dir := t.TempDir()
	path, dest := filepath.Join(dir, "missing.db"), filepath.Join(dir, "dest.db")
	for _, args := range commandLines(path, dest) {
		r := mustRun(t, 1, args...)
		if !strings.Contains(r.stderr, "no such file") || !strings.Contains(r.stderr, path) {
			t.Errorf("%s: stderr = %q; want no such file naming the path", args[0], r.stderr)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s created the missing file (stat: %v)", args[0], err)
		}
	}
}

// Ensure that every command reports a file held open by a Store as in use,
// after its short timeout, and that compact then creates no destination.
func TestRun_LockedFile_ReportsInUse(t *testing.T) {
	path := newTestFile(t)
	st, err := boltstore.Open(path, boltstore.WithNoSync())
	if err != nil {
		t.Fatalf("boltstore.Open: %v", err)
	}
	defer st.Close()
	dest := filepath.Join(t.TempDir(), "dest.db")
	for _, args := range commandLines(path, dest) {
		args = append([]string{args[0], "-timeout", "20ms"}, args[1:]...)
		r := mustRun(t, 1, args...)
		if !strings.Contains(r.stderr, "file is in use by another process") {
			t.Errorf("%s: stderr = %q; want file is in use by another process", args[0], r.stderr)
		}
	}
	if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("compact of a locked file left %s (stat: %v)", dest, err)
	}
}

// Ensure that readers do not lock each other out: a command runs while
// another process holds the file read-only.
func TestRun_ReadOnlyHolder_DoesNotBlock(t *testing.T) {
	path := newTestFile(t)
	db, err := openReadOnly(path, defaultTimeout, false)
	if err != nil {
		t.Fatalf("openReadOnly: %v", err)
	}
	defer db.Close()
	mustRun(t, 0, "keys", "-timeout", "20ms", path, projA)
}

// Ensure that files that are not livefold files are reported, not opened.
func TestRun_NotALivefoldFile(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{garbage, empty, dir} {
		r := mustRun(t, 1, "stats", path)
		if !strings.Contains(r.stderr, "not a livefold file") {
			t.Errorf("stats %s: stderr = %q; want not a livefold file", path, r.stderr)
		}
	}
	if got := fileBytes(t, empty); len(got) != 0 {
		t.Errorf("the empty file has %d bytes after stats; want it untouched", len(got))
	}
}

// Ensure that an unknown command exits 2 with the usage.
func TestRun_UnknownCommand_Exits2(t *testing.T) {
	r := mustRun(t, 2, "frobnicate", "x.db")
	if !strings.Contains(r.stderr, `unknown command "frobnicate"`) || !strings.Contains(r.stderr, "commands:") {
		t.Errorf("stderr = %q; want unknown command and the usage", r.stderr)
	}
	r = mustRun(t, 2)
	if !strings.Contains(r.stderr, "usage: livefold") {
		t.Errorf("no arguments: stderr = %q; want the usage", r.stderr)
	}
}

// Ensure that missing or extra arguments and bad flags exit 2 with the
// command's usage.
func TestRun_BadArguments_Exit2(t *testing.T) {
	for _, args := range [][]string{
		{"projections"},
		{"keys", "x.db"},
		{"get", "x.db", projA},
		{"get", "x.db", projA, "k", "extra"},
		{"stats", "-nosuchflag", "x.db"},
		{"verify", "-timeout", "soon", "x.db"},
		{"compact", "x.db"},
		{"compact", "-tx-max-size", "-1", "x.db", "y.db"},
	} {
		r := mustRun(t, 2, args...)
		if !strings.Contains(r.stderr, "invalid arguments") || !strings.Contains(r.stderr, "usage: livefold "+args[0]) {
			t.Errorf("%v: stderr = %q; want invalid arguments and the command's usage", args, r.stderr)
		}
	}
}

// Ensure that help is reachable as help, -h and COMMAND -h, on stdout.
func TestRun_Help(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := mustRun(t, 0, args...)
		for _, c := range commands() {
			if !strings.Contains(r.stdout, c.name) {
				t.Errorf("%v: help does not mention %s:\n%s", args, c.name, r.stdout)
			}
		}
	}
	for _, args := range [][]string{{"help", "get"}, {"get", "-h"}, {"get", "x.db", "-h"}} {
		r := mustRun(t, 0, args...)
		if !strings.HasPrefix(r.stdout, "usage: livefold get ") || !strings.Contains(r.stdout, "state") {
			t.Errorf("%v printed %q; want the help of get", args, r.stdout)
		}
	}
	mustRun(t, 2, "help", "nosuch")
}

// Ensure that a cancelled context stops a command with an error.
func TestRun_CancelledContext_Fails(t *testing.T) {
	path := newTestFile(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, args := range [][]string{{"verify", path}, {"keys", path, projA}, {"get", path, projA, "alpha"}} {
		r := runCLIContext(ctx, args...)
		wantCode(t, r, 1, args...)
		if !strings.Contains(r.stderr, "context canceled") {
			t.Errorf("%s: stderr = %q; want context canceled", args[0], r.stderr)
		}
	}
}
