// The tests live in package main, not an external test package, because a
// command's package cannot be imported; they drive the harness the way the
// command does and through its workload functions.
package main

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Ensure that a smoke run of every workload passes its checks, prints a table
// with targets, and removes its temporary directory.
func TestRun_Short_ChecksPassAndTableHasTargets(t *testing.T) {
	dir := t.TempDir()
	var out, progress bytes.Buffer
	code := run([]string{"-short", "-duration", "20ms", "-dir", dir,
		"-systems", "sqlite-full,livefold", "-only", "apply,hotkey,read,rebuild,rebuildall,fanout,idle"}, &out, &progress)
	if code != 0 {
		t.Fatalf("run = %d; want 0\n%s\n%s", code, out.String(), progress.String())
	}
	table := out.String()
	for _, want := range []string{"Checks: all passed", "| apply p=64 keys=500 | livefold |", ">= 20x sqlite-full", "fan-out 1 -> 100 subscribers",
		"| rebuild all: 5000 events, 500 keys | livefold: RebuildAll |", "| rebuild all: 5000 events, 500 keys | sqlite-full |", "< 256 MiB"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// Ensure that -memprofile writes a heap profile before each rebuildall cell
// and one at its largest live heap, named after the cell.
func TestRun_MemProfile_WritesProfilesOfRebuildAllCells(t *testing.T) {
	dir, profiles := t.TempDir(), t.TempDir()
	var out, progress bytes.Buffer
	code := run([]string{"-short", "-dir", dir, "-systems", "livefold", "-only", "rebuildall", "-memprofile", profiles}, &out, &progress)
	if code != 0 {
		t.Fatalf("run = %d; want 0\n%s\n%s", code, out.String(), progress.String())
	}
	for _, cell := range []string{"livefold--applybatch-1000-", "livefold--rebuildall", "livefold--applybatch-1000---grouped-by-key",
		"livefold--rebuildall--grouped-by-key", "livefold--rebuild-per-key"} {
		for _, when := range []string{"-before", "-peak"} {
			b, err := os.ReadFile(filepath.Join(profiles, cell+when+".pprof"))
			if err != nil {
				t.Errorf("profile of %s%s: %v", cell, when, err)
				continue
			}
			// A heap profile is a gzipped protocol buffer.
			if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
				t.Errorf("profile of %s%s is no gzipped profile: % x", cell, when, b[:min(len(b), 8)])
			}
		}
	}
}

// lossy acknowledges every event but stores only some: the fast wrong answer
// the checks exist to catch.
type lossy struct {
	system
	n atomic.Int64
}

func (l *lossy) apply(ctx context.Context, e event) error {
	if l.n.Add(1)%7 == 1 { // the first event, and every 7th after it
		return nil
	}
	return l.system.apply(ctx, e)
}

func (l *lossy) applyBatch(ctx context.Context, events []event) error {
	return l.system.applyBatch(ctx, events[:len(events)-1])
}

func (l *lossy) rebuild(ctx context.Context, key string, events iter.Seq[event]) error {
	return l.system.rebuild(ctx, key, func(yield func(event) bool) {
		first := true
		for e := range events {
			if first { // drop the first event
				first = false
				continue
			}
			if !yield(e) {
				return
			}
		}
	})
}

func (l *lossy) rebuildAll(ctx context.Context, events iter.Seq[event], memory, batch int) error {
	return l.system.rebuildAll(ctx, func(yield func(event) bool) {
		first := true
		for e := range events {
			if first { // drop the first event
				first = false
				continue
			}
			if !yield(e) {
				return
			}
		}
	}, memory, batch)
}

func lossyKind(t *testing.T) systemKind {
	for _, k := range systemKinds() {
		if k.name == "livefold" {
			open := k.open
			k.name = "lossy"
			k.open = func(path string, o openOptions) (system, error) {
				s, err := open(path, o)
				if err != nil {
					return nil, err
				}
				return &lossy{system: s}, nil
			}
			return k
		}
	}
	t.Fatal("no livefold system")
	return systemKind{}
}

func newTestHarness(t *testing.T) *harness {
	t.Helper()
	cfg, err := parseFlags([]string{"-short", "-duration", "20ms", "-dir", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	h, err := newHarness(cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.close(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// Ensure that a system losing acknowledged events fails the check of every
// workload that writes, however fast it is.
func TestHarness_LossySystem_FailsChecks(t *testing.T) {
	ctx := context.Background()
	k := lossyKind(t)
	cases := map[string]func(h *harness){
		"apply": func(h *harness) {
			h.applyCell(ctx, k, applySpec{workload: "apply", producers: 4, keys: keyNames(50),
				opts: openOptions{stateBytes: 100}, checkAll: true})
		},
		"batch":   func(h *harness) { h.batchCell(ctx, k, "batch", 1, keyNames(50)) },
		"rebuild": func(h *harness) { h.rebuildCell(ctx, k, "rebuild", 100) },
		"memory":  func(h *harness) { h.updatesFileSize(ctx, k, 3000, 100) },
	}
	for name, runCell := range cases {
		t.Run(name, func(t *testing.T) {
			h := newTestHarness(t)
			runCell(h)
			if len(h.failures) == 0 {
				t.Fatalf("no check failed for a system that loses events; rows: %+v", h.rows)
			}
		})
	}
}

// Ensure that every way the rebuildall workload does its job fails its
// check when the system loses events, whichever path (RebuildAll, ApplyBatch,
// Rebuild per key) lost them.
func TestHarness_LossyRebuildAll_EveryCellFails(t *testing.T) {
	ctx := context.Background()
	k := lossyKind(t)
	h := newTestHarness(t)
	h.rebuildAllCells(ctx, k, newHistory(h.cfg.allEvents, h.cfg.allKeys))
	for _, via := range []string{viaApplyBatch, viaRebuildAll, viaApplyBatch + byKey, viaRebuildAll + byKey, viaPerKey} {
		prefix := fmt.Sprintf("/ %s: ", viaSystem(k.name, via))
		if !slices.ContainsFunc(h.failures, func(f string) bool { return strings.Contains(f, prefix) }) {
			t.Errorf("no check failed for %q; failures: %v", via, h.failures)
		}
	}
	h = newTestHarness(t)
	h.perKeyOnly(ctx, k, newHistory(h.cfg.allEvents, h.cfg.allKeys))
	if len(h.failures) == 0 {
		t.Errorf("no check failed for a rebuild per key that loses events")
	}
}

// Ensure that the same cells pass with the real system, so that the failures
// above come from the lost events.
func TestHarness_Livefold_PassesChecks(t *testing.T) {
	ctx := context.Background()
	h := newTestHarness(t)
	var k systemKind
	for _, kk := range systemKinds() {
		if kk.name == "livefold" {
			k = kk
		}
	}
	h.applyCell(ctx, k, applySpec{workload: "apply", producers: 4, keys: keyNames(50),
		opts: openOptions{stateBytes: 100}, checkAll: true})
	h.batchCell(ctx, k, "batch", 1, keyNames(50))
	h.rebuildCell(ctx, k, "rebuild", 100)
	h.updatesFileSize(ctx, k, 3000, 100)
	h.rebuildAllCells(ctx, k, newHistory(h.cfg.allEvents, h.cfg.allKeys))
	h.perKeyOnly(ctx, k, newHistory(h.cfg.allEvents, h.cfg.allKeys))
	if len(h.failures) != 0 {
		t.Fatalf("checks failed: %v", h.failures)
	}
}

// Ensure that a bus that loses or reorders a message fails the fan-out check.
func TestFanCell_LostMessage_Fails(t *testing.T) {
	h := newTestHarness(t)
	h.busWait = 200 * time.Millisecond // subscriber 1 waits for a 100th message that never comes
	h.fanCell("fan", "broken", 3, 100, func() (wiredBus, error) {
		chans := []chan int64{make(chan int64, 200), make(chan int64, 200), make(chan int64, 200)}
		b := wiredBus{check: func() error { return nil }}
		for _, c := range chans {
			b.subs = append(b.subs, c)
		}
		b.publish = func(v int64) error {
			for i, c := range chans {
				if i == 1 && v == 42 {
					continue // lost for subscriber 1
				}
				c <- v
			}
			return nil
		}
		b.close = func() {
			for _, c := range chans {
				close(c)
			}
		}
		return b, nil
	})
	if len(h.failures) != 1 || !strings.Contains(h.failures[0], "subscriber 1") {
		t.Fatalf("failures = %v; want one naming subscriber 1", h.failures)
	}
}

// Ensure that unknown names in -only and -systems are refused.
func TestParseFlags_UnknownNames_Refused(t *testing.T) {
	for _, args := range [][]string{{"-only", "apply,nope"}, {"-systems", "postgres"}, {"-many-keys", "10"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) = nil error; want one", args)
		}
	}
	if code := run([]string{"-only", "nope"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 64 {
		t.Errorf("run with a bad flag = %d; want 64", code)
	}
}

// Ensure that a missed target fails the row and, with -strict, the run.
func TestEvaluate_MissedTarget_MarksFail(t *testing.T) {
	rows := []row{
		{workload: "w", system: baseline, value: 100, unit: "ev/s"},
		{workload: "w", system: "livefold", value: 1500, unit: "ev/s"},
	}
	evaluate(rows, []target{{workload: "w", system: "livefold", text: ">= 20x",
		met: func(r row, rows []row) bool { v, ok := ratio(rows, r); return ok && v >= 20 }}})
	if rows[1].status != "FAIL" || rows[1].target != ">= 20x" {
		t.Errorf("row = %+v; want status FAIL with its target", rows[1])
	}
	if missed(rows) != 1 {
		t.Errorf("missed = %d; want 1", missed(rows))
	}
}
