package boltstore_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
)

// commitFrames commits n one-write requests to a fresh store, one frame each
// (key k<i> at version 1), and returns the store and the offset of every
// frame in its log.
func commitFrames(t *testing.T, n int, opts ...boltstore.Option) (*boltstore.Store, []int64) {
	t.Helper()
	s := openStore(t, opts...)
	offsets := make([]int64, n)
	for i := range n {
		offsets[i] = s.Stats().LogBytes
		mustCommit(t, s, put("p", fmt.Sprint("k", i), 0, rec(1, strings.Repeat("v", 100))))
	}
	return s, offsets
}

// flipBit flips one bit of the file at path at offset off.
func flipBit(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x10
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Ensure that one damaged byte in the middle of the log is corruption, not a
// torn tail: Open and a read-only Open refuse with ErrCorrupt naming the log
// and the offset, and leave both files as they were; WithLogSalvage replays
// every intact frame and loses only the damaged one, which InspectLog names.
func TestStore_Open_DamagedFrameIsNotATornTail(t *testing.T) {
	s, offsets := commitFrames(t, 10)
	path := crashCopy(t, s)
	flipBit(t, path+"-wal", offsets[2]+40) // in frame 2's payload
	before := fileSums(t, path)

	for _, opts := range [][]boltstore.Option{nil, {boltstore.WithReadOnly()}} {
		c, err := boltstore.Open(path, opts...)
		if err == nil {
			c.Close()
			t.Fatalf("Open(%d options) of a log damaged in frame 2 of 10 succeeded; want ErrCorrupt", len(opts))
		}
		want := fmt.Sprintf("log %s is damaged at offset %d", path+"-wal", offsets[2])
		if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Open = %v; want ErrCorrupt saying %q", err, want)
		}
	}
	if after := fileSums(t, path); after != before {
		t.Fatalf("Open changed the file or the log of a damaged log")
	}

	rep, err := boltstore.InspectLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(rep.Err, store.ErrCorrupt) {
		t.Errorf("InspectLog Err = %v; want ErrCorrupt", rep.Err)
	}
	var damaged, salvage []string
	for _, f := range rep.Frames {
		switch f.State {
		case boltstore.FrameDamaged:
			for _, w := range f.Writes {
				damaged = append(damaged, fmt.Sprintf("%d:%s", f.Offset, w.Key))
			}
		case boltstore.FrameSalvage:
			salvage = append(salvage, f.Writes[0].Key)
		}
	}
	if want := []string{fmt.Sprintf("%d:k2", offsets[2])}; fmt.Sprint(damaged) != fmt.Sprint(want) {
		t.Errorf("InspectLog damaged writes = %v; want %v", damaged, want)
	}
	if len(salvage) != 7 {
		t.Errorf("InspectLog frames to salvage = %v; want k3..k9", salvage)
	}

	var logBuf syncBuffer
	c, err := boltstore.Open(path, boltstore.WithLogSalvage(), boltstore.WithLogger(slog.New(slog.NewTextHandler(&logBuf, nil))))
	if err != nil {
		t.Fatalf("Open with WithLogSalvage = %v", err)
	}
	defer c.Close()
	for i := range 10 {
		_, ok := mustGet(t, c, "p", fmt.Sprint("k", i))
		if ok != (i != 2) {
			t.Errorf("after salvage k%d present = %v; want every key but k2", i, ok)
		}
	}
	if !strings.Contains(logBuf.String(), "salvaged a damaged log") {
		t.Errorf("log = %q; want the salvage reported", logBuf.String())
	}
}

// Ensure that damage in the first frame, with frames after it, is refused
// as well: a log whose start is unreadable is not an empty log.
func TestStore_Open_DamagedFirstFrameIsNotAnEmptyLog(t *testing.T) {
	s, offsets := commitFrames(t, 3)
	path := crashCopy(t, s)
	flipBit(t, path+"-wal", offsets[0]+2) // the magic of frame 0
	if c, err := boltstore.Open(path); err == nil {
		c.Close()
		t.Fatal("Open of a log damaged in its first frame succeeded; want ErrCorrupt")
	} else if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Open = %v; want ErrCorrupt", err)
	}
}

// Ensure that a log older than the file is never replayed over it: a copy
// of the log taken earlier (a restored backup, a copied directory), put
// beside the file after a clean Close, leaves every key at the version the
// file has, whether the file checkpointed since the copy or not.
func TestStore_Open_OlderLogOfTheSameFileIsIgnored(t *testing.T) {
	for _, checkpoint := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoint=%v", checkpoint), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			s, err := boltstore.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			for v := uint64(1); v <= 3; v++ {
				mustCommit(t, s, put("p", "k", v-1, rec(v, fmt.Sprint("v", v))))
			}
			old, err := os.ReadFile(path + "-wal")
			if err != nil {
				t.Fatal(err)
			}
			if checkpoint {
				if err := s.Checkpoint(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			for v := uint64(4); v <= 7; v++ {
				mustCommit(t, s, put("p", "k", v-1, rec(v, fmt.Sprint("v", v))))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+"-wal", old, 0o600); err != nil {
				t.Fatal(err)
			}
			c := openPath(t, path)
			if r, ok := mustGet(t, c, "p", "k"); !ok || r.Version != 7 {
				t.Errorf("k = version %d, %v after an older log was put beside the file; want 7", r.Version, ok)
			}
			if n := c.LogRecords(); n != 0 {
				t.Errorf("LogRecords = %d; want 0: nothing replayed", n)
			}
		})
	}
}

// Ensure that the log of another file is refused with ErrWrongLog, and that
// neither the file nor the log changes.
func TestStore_Open_LogOfAnotherFileIsRefused(t *testing.T) {
	a := openStore(t)
	mustCommit(t, a, put("p", "mine", 0, rec(1, "a")))
	aPath := crashCopy(t, a)
	b := openStore(t)
	mustCommit(t, b, put("p", "theirs", 0, rec(1, "b")))
	bPath := crashCopy(t, b)
	wal, err := os.ReadFile(bPath + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(aPath+"-wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}
	before := fileSums(t, aPath)
	for _, opts := range [][]boltstore.Option{nil, {boltstore.WithReadOnly()}, {boltstore.WithoutWAL()}} {
		c, err := boltstore.Open(aPath, opts...)
		if err == nil {
			c.Close()
			t.Fatalf("Open(%d options) with another file's log succeeded; want ErrWrongLog", len(opts))
		}
		if !errors.Is(err, boltstore.ErrWrongLog) || !strings.Contains(err.Error(), "another file") {
			t.Fatalf("Open = %v; want ErrWrongLog saying it belongs to another file", err)
		}
	}
	if after := fileSums(t, aPath); after != before {
		t.Fatal("a refused log changed the file or the log")
	}
}

// Ensure that a log beside a file restored from an older copy (the log
// starts from a state the file is not in) is refused, not replayed into a
// mix of two histories. The copy is two checkpoints older than the log: of
// a copy one checkpoint older, the two log files still hold every
// generation since, each starting where the one before ended, and Open
// replays them.
func TestStore_Open_LogNewerThanTheFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustCommit(t, s, put("p", "k", 0, rec(1, "v1")))
	oldFile, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 2; v++ {
		if err := s.Checkpoint(t.Context()); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, s, put("p", "k", v, rec(v+1, "newer")))
	}
	crashed := crashCopy(t, s)
	if err := os.WriteFile(crashed, oldFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := boltstore.Open(crashed); err == nil {
		c.Close()
		t.Fatal("Open of an older file with a newer log succeeded; want ErrWrongLog")
	} else if !errors.Is(err, boltstore.ErrWrongLog) {
		t.Fatalf("Open = %v; want ErrWrongLog", err)
	}
}

// Ensure that once a store without a log replayed a leftover log, that log
// can never be replayed again: put back beside the file after newer commits
// (as when its removal did not reach the disk), it changes nothing.
func TestStore_Open_WithoutWALReplayedLogNeverReplaysAgain(t *testing.T) {
	s := openStore(t)
	mustCommit(t, s, put("p", "k", 0, rec(1, "logged")))
	path := crashCopy(t, s)
	leftover, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	c, err := boltstore.Open(path, boltstore.WithoutWAL())
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, c, put("p", "k", 1, rec(2, "newer")))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+"-wal", leftover, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]boltstore.Option{{boltstore.WithoutWAL()}, nil} {
		again, err := boltstore.Open(path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := mustGet(t, again, "p", "k"); !ok || r.Version != 2 {
			t.Errorf("after the replayed log came back, k = version %d, %v; want 2", r.Version, ok)
		}
		if err := again.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+"-wal", leftover, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Ensure that InspectLog describes the frames of a leftover log: those the
// file lacks, in order, with their writes, and the tail.
func TestInspectLog_ListsFrames(t *testing.T) {
	s, offsets := commitFrames(t, 3)
	mustCommit(t, s, store.Write{Bucket: "p", Key: "k0", Expect: 1, Delete: true})
	path := crashCopy(t, s)
	rep, err := boltstore.InspectLog(path)
	if err != nil || rep.Err != nil {
		t.Fatalf("InspectLog = %+v, %v", rep, err)
	}
	var got []string
	for _, f := range rep.Frames {
		s := fmt.Sprintf("%d %s", f.Offset, f.State)
		for _, w := range f.Writes {
			s += fmt.Sprintf(" %s/%s@%d del=%v", w.Bucket, w.Key, w.Version, w.Delete)
		}
		got = append(got, s)
	}
	end := rep.Frames[3].Offset + rep.Frames[3].Size
	want := []string{
		fmt.Sprintf("%d replay p/k0@1 del=false", offsets[0]),
		fmt.Sprintf("%d replay p/k1@1 del=false", offsets[1]),
		fmt.Sprintf("%d replay p/k2@1 del=false", offsets[2]),
		fmt.Sprintf("%d replay p/k0@0 del=true", rep.Frames[3].Offset),
		fmt.Sprintf("%d tail", end),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("InspectLog frames:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.Writes != 4 || rep.Size <= end {
		t.Errorf("InspectLog Writes %d, Size %d; want 4 writes and the preallocated tail after offset %d", rep.Writes, rep.Size, end)
	}
}

// Ensure that a log in the format of an earlier livefold, whose frames do
// not name their file, is refused rather than guessed at, and left as it is.
func TestStore_Open_LogOfAnEarlierFormatIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openPath(t, path)
	mustCommit(t, s, put("p", "k", 0, rec(1, "v")))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	old := append([]byte("LFW1"), make([]byte, 60)...)
	if err := os.WriteFile(path+"-wal", old, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := boltstore.Open(path); err == nil {
		c.Close()
		t.Fatal("Open with a log of the earlier format succeeded; want ErrWrongLog")
	} else if !errors.Is(err, boltstore.ErrWrongLog) || !strings.Contains(err.Error(), "version of livefold") {
		t.Fatalf("Open = %v; want ErrWrongLog naming the earlier format", err)
	}
	if b, err := os.ReadFile(path + "-wal"); err != nil || string(b[:4]) != "LFW1" || len(b) != len(old) {
		t.Fatalf("the refused log changed: %q, %v", b[:4], err)
	}
}
