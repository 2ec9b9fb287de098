package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// Ensure that a smoke run of the peers passes every check (reads through each
// peer's own read path, also after a reopen), prints the table of ratios to
// every peer with livefold's fraction of the sync limit, holds livefold to
// the peer targets, and removes the peers' directories.
func TestRun_ShortPeers_ChecksPassAndPeerTable(t *testing.T) {
	dir := t.TempDir()
	var out, progress bytes.Buffer
	code := run([]string{"-short", "-duration", "20ms", "-dir", dir,
		"-systems", "livefold,pebble-sync,pebble-nosyncwait,badger-sync", "-only", "apply,hotkey,batch,read,rebuild"}, &out, &progress)
	if code != 0 {
		t.Fatalf("run = %d; want 0\n%s\n%s", code, out.String(), progress.String())
	}
	table := out.String()
	for _, want := range []string{"Checks: all passed", "### livefold against the peers",
		"| workload | livefold | vs pebble-sync | vs pebble-nosyncwait | vs badger-sync | commits/s | sync limit (syncs/s) | of the sync limit |",
		"| apply p=64 keys=500 | pebble-nosyncwait |", "| apply p=1 keys=500 | badger-sync |", "| rebuild 1 key from 20000 events | pebble-sync |",
		">= 1.5x pebble-nosyncwait", ">= 1.2x pebble-sync", "commits >= 70% of the sync limit", ">= 1.5x Pebble's batch",
		"WAL syncs/s", "Sync limit, syncs/s of 4 KiB overwrites"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "Sync limit") {
			continue
		}
		for _, g := range []string{"apply", "hotkey", "batch", "read", "rebuild"} {
			if !strings.Contains(line, "; "+g+" ") && !strings.Contains(line, ": "+g+" ") {
				t.Errorf("sync limit line lacks group %s: %s", g, line)
			}
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// Ensure that the peers refuse a rebuild of every key with an error wrapping
// errors.ErrUnsupported, as the harness expects of systems without one.
func TestPeers_RebuildAll_Unsupported(t *testing.T) {
	for _, k := range systemKinds() {
		if !strings.HasPrefix(k.name, "pebble") && !strings.HasPrefix(k.name, "badger") {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			path := t.TempDir() + "/db"
			sys, err := k.open(path, openOptions{stateBytes: 100})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := sys.close(); err != nil {
					t.Error(err)
				}
			}()
			if k.rebuildsAll {
				t.Errorf("%s claims a rebuild of every key", k.name)
			}
			err = sys.rebuildAll(context.Background(), func(func(event) bool) {}, 10, 10)
			if !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("rebuildAll = %v; want errors.ErrUnsupported", err)
			}
		})
	}
}

// Ensure that a pebble system's event, acknowledged, is visible to the
// key's next event and counted among its WAL syncs, in both forms.
func TestPebble_Apply_NextEventSeesStateAndSyncsCounted(t *testing.T) {
	ctx := context.Background()
	for _, noSyncWait := range []bool{false, true} {
		sys, err := openPebble(t.TempDir(), openOptions{stateBytes: 100}, noSyncWait)
		if err != nil {
			t.Fatal(err)
		}
		before := sys.syncs()
		for _, amount := range []int64{3, 4} {
			if err := sys.apply(ctx, event{Key: "k", Amount: amount}); err != nil {
				t.Fatal(err)
			}
		}
		st, version, ok, err := sys.read(ctx, "k")
		if err != nil || !ok || version != 2 || st.Sum != 7 || st.Count != 2 {
			t.Errorf("noSyncWait %v: read = %+v, %d, %v, %v; want sum 7, count 2, version 2", noSyncWait, st, version, ok, err)
		}
		if got := sys.syncs() - before; got < 1 {
			t.Errorf("noSyncWait %v: syncs counted = %d; want at least 1", noSyncWait, got)
		}
		if err := sys.close(); err != nil {
			t.Error(err)
		}
	}
}

// Ensure that a row held to two targets shows both, each with its status,
// and counts as one missed target when one is missed.
func TestEvaluate_TwoTargets_StatusEach(t *testing.T) {
	rows := []row{{workload: "w", system: "livefold", value: 10, unit: "ev/s"}}
	evaluate(rows, []target{
		{workload: "w", system: "livefold", text: "a", met: func(row, []row) bool { return true }},
		{workload: "w", system: "livefold", text: "b", met: func(row, []row) bool { return false }},
	})
	if rows[0].target != "a; b" || rows[0].status != "pass; FAIL" {
		t.Errorf("row = %q / %q; want %q / %q", rows[0].target, rows[0].status, "a; b", "pass; FAIL")
	}
	if n := missed(rows); n != 1 {
		t.Errorf("missed = %d; want 1", n)
	}
}

// Ensure that a target relative to a peer that did not run is not evaluated,
// and that one whose peer ran is.
func TestEvaluate_PeerAbsent_NotEvaluated(t *testing.T) {
	cfg, err := parseFlags([]string{"-short"})
	if err != nil {
		t.Fatal(err)
	}
	apply1 := "apply p=1 keys=500"
	rows := []row{{workload: apply1, system: "livefold", value: 10, unit: "ev/s"}}
	evaluate(rows, targets(cfg))
	if strings.Contains(rows[0].target, pebbleSync) {
		t.Errorf("without %s: row = %q / %q; want no target relative to it", pebbleSync, rows[0].target, rows[0].status)
	}
	rows = []row{{workload: apply1, system: "livefold", value: 10, unit: "ev/s"},
		{workload: apply1, system: pebbleSync, value: 10, unit: "ev/s"}}
	evaluate(rows, targets(cfg))
	if !strings.Contains(rows[0].target, ">= 1.2x pebble-sync") || !strings.Contains(rows[0].status, "FAIL") {
		t.Errorf("with %s at the same rate: row = %q / %q; want the 1.2x target missed", pebbleSync, rows[0].target, rows[0].status)
	}
}

// Ensure that the table of peers gives livefold's ratio to each peer that
// ran and its fraction of the sync limit.
func TestWritePeers_RatiosAndSyncFraction(t *testing.T) {
	rows := []row{
		{workload: "w", system: "livefold", value: 2000, unit: "ev/s", syncs: 500, syncLimit: 1000},
		{workload: "w", system: pebbleSync, value: 1000, unit: "ev/s"},
		{workload: "w", system: badgerSync, value: 500, unit: "ev/s"},
		{workload: "m", system: "livefold", value: 3, unit: "MiB"},
		{workload: "m", system: pebbleSync, value: 3, unit: "MiB"},
	}
	var b bytes.Buffer
	writePeers(&b, rows)
	want := "| w | 2,000 ev/s | 2.00x | — | 4.00x | 500 | 1,000 | 50% |"
	if !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}
	if strings.Contains(b.String(), "| m |") {
		t.Errorf("table has a row that is not a throughput:\n%s", b.String())
	}
}

// Ensure that the sync probe measures a positive rate and leaves no file.
func TestProbeSyncRate_PositiveNoFileLeft(t *testing.T) {
	dir := t.TempDir()
	rate, err := probeSyncRate(dir, 0)
	if err != nil || rate <= 0 {
		t.Fatalf("probeSyncRate = %v, %v; want a positive rate", rate, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}
