package boltstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"
)

// These tests fail syncs through crashFS, which only a test in the package
// can give a Store.

// lockedBuffer is a log sink safe for the Store's goroutines and the test.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// openFaulty opens a store in a new directory through a crashFS, with a
// logger writing to the returned buffer.
func openFaulty(t *testing.T, opts ...Option) (*Store, *crashFS, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	fsys := newCrashFS(dir)
	var buf lockedBuffer
	opts = append([]Option{func(c *config) { c.fs = fsys }, WithLogger(slog.New(slog.NewTextHandler(&buf, nil)))}, opts...)
	s, err := Open(filepath.Join(dir, "s.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s, fsys, &buf
}

func write(key string, version uint64) []store.Write {
	return []store.Write{{Bucket: "p", Key: key, Expect: version - 1, Record: store.Record{Version: version, State: []byte(key)}}}
}

// Ensure that a failed sync of the log fails the commit, is counted in
// Stats and logged, that the frame it left is erased before the next commit
// is acknowledged, and that a failed erasure keeps every later commit
// failing until one succeeds.
func TestStore_Commit_FailedLogSyncCountedAndRepaired(t *testing.T) {
	s, fsys, buf := openFaulty(t)
	defer s.Close()
	ctx := context.Background()
	if err := s.Commit(ctx, write("a", 1)); err != nil {
		t.Fatal(err)
	}
	fsys.failNext(1)
	if err := s.Commit(ctx, write("b", 1)); !errors.Is(err, store.ErrCommit) || !errors.Is(err, errInjected) {
		t.Fatalf("Commit with a failing sync = %v; want ErrCommit", err)
	}
	if st := s.Stats(); st.FailedSyncs != 1 || st.FailedCommits != 1 {
		t.Errorf("Stats FailedSyncs %d, FailedCommits %d; want 1 and 1", st.FailedSyncs, st.FailedCommits)
	}
	if !strings.Contains(buf.String(), "log write or sync failed") || !strings.Contains(buf.String(), "op=append") {
		t.Errorf("log = %q; want the failed append", buf.String())
	}
	// The append fails, and so do the erasure right after it and the one
	// the next commit tries first: that commit fails too.
	if err := s.Commit(ctx, write("b", 1)); err != nil {
		t.Fatalf("Commit after the failed one = %v", err)
	}
	fsys.failNext(3)
	if err := s.Commit(ctx, write("c", 1)); !errors.Is(err, store.ErrCommit) {
		t.Fatalf("Commit with a failing sync = %v; want ErrCommit", err)
	}
	if err := s.Commit(ctx, write("c", 1)); !errors.Is(err, store.ErrCommit) || !strings.Contains(err.Error(), "clear log tail") {
		t.Fatalf("Commit while the log cannot be erased = %v; want ErrCommit", err)
	}
	if err := s.Commit(ctx, write("d", 1)); err != nil {
		t.Fatalf("Commit once the log is erased = %v", err)
	}
	if st := s.Stats(); st.FailedSyncs != 4 || st.FailedCommits != 3 {
		t.Errorf("Stats FailedSyncs %d, FailedCommits %d; want 4 and 3", st.FailedSyncs, st.FailedCommits)
	}
	data, err := os.ReadFile(walPath(s.path))
	if err != nil {
		t.Fatal(err)
	}
	fp, _, err := loadFoldPoint(s.db, s.path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scanLog(walPath(s.path), data, fp, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, w := range sc.writes {
		keys = append(keys, w.key)
	}
	if strings.Join(keys, ",") != "a,b,d" {
		t.Errorf("the log replays %v; want the acknowledged a, b and d", keys)
	}
}

// Ensure that a checkpoint whose commit failed its last sync after bbolt
// went on from it has the meta pages synced again and holds, counted and
// logged; that when that sync fails too, the checkpoint fails, commits are
// still acknowledged through the log, the file is not written again, Close
// says so, and the next Open has every acknowledged commit.
func TestStore_Checkpoint_FailedFileSyncCountedAndRepaired(t *testing.T) {
	s, fsys, buf := openFaulty(t)
	ctx := context.Background()
	// The first checkpoint also syncs the meta pages, as the first write of
	// a file just opened.
	for _, k := range []string{"first", "a"} {
		if err := s.Commit(ctx, write(k, 1)); err != nil {
			t.Fatal(err)
		}
		if k == "first" {
			if err := s.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	fsys.failNext(1)
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint whose last sync failed and was repaired = %v", err)
	}
	if st := s.Stats(); st.FailedSyncs != 1 || st.Checkpoints != 2 || st.FailedCheckpoints != 0 {
		t.Errorf("Stats FailedSyncs %d, Checkpoints %d, FailedCheckpoints %d; want 1, 2, 0",
			st.FailedSyncs, st.Checkpoints, st.FailedCheckpoints)
	}
	if !strings.Contains(buf.String(), "sync of the file failed") {
		t.Errorf("log = %q; want the failed sync of the file", buf.String())
	}

	if err := s.Commit(ctx, write("b", 1)); err != nil {
		t.Fatal(err)
	}
	fsys.failNext(2)
	if err := s.Checkpoint(ctx); !errors.Is(err, store.ErrCommit) {
		t.Fatalf("Checkpoint whose syncs failed = %v; want ErrCommit", err)
	}
	if err := s.Commit(ctx, write("c", 1)); err != nil {
		t.Fatalf("Commit after a failed checkpoint = %v; want it logged and acknowledged", err)
	}
	if err := s.Checkpoint(ctx); err == nil || !strings.Contains(err.Error(), "not written again") {
		t.Errorf("Checkpoint after the file's syncs failed = %v; want it refused", err)
	}
	if st := s.Stats(); st.FailedSyncs != 3 || st.FailedCheckpoints != 2 {
		t.Errorf("Stats FailedSyncs %d, FailedCheckpoints %d; want 3 and 2", st.FailedSyncs, st.FailedCheckpoints)
	}
	if err := s.Close(); err == nil {
		t.Error("Close after the file could not be written = nil; want the failed final checkpoint")
	}
	again, err := Open(s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, k := range []string{"a", "b", "c"} {
		if _, ok, err := again.Get(ctx, "p", k); !ok || err != nil {
			t.Errorf("after reopening, %s = %v, %v; want every acknowledged commit", k, ok, err)
		}
	}
}

// Ensure that without a log, a commit that failed its last sync after bbolt
// went on from it is reported committed once the meta pages are synced
// again, and that when that fails too the commit is reported failed and no
// later commit is acknowledged.
func TestStore_Commit_WithoutWALFailedFileSync(t *testing.T) {
	s, fsys, _ := openFaulty(t, WithoutWAL())
	defer s.Close()
	ctx := context.Background()
	// The first commit also syncs the meta pages, as the first write of a
	// file just opened.
	if err := s.Commit(ctx, write("first", 1)); err != nil {
		t.Fatal(err)
	}
	fsys.failNext(1)
	if err := s.Commit(ctx, write("a", 1)); err != nil {
		t.Fatalf("Commit whose last sync failed and was repaired = %v", err)
	}
	fsys.failNext(2)
	if err := s.Commit(ctx, write("b", 1)); !errors.Is(err, store.ErrCommit) {
		t.Fatalf("Commit whose syncs failed = %v; want ErrCommit", err)
	}
	if err := s.Commit(ctx, write("c", 1)); !errors.Is(err, store.ErrCommit) || !strings.Contains(err.Error(), "not written again") {
		t.Fatalf("Commit after the file's syncs failed = %v; want ErrCommit", err)
	}
	if st := s.Stats(); st.FailedSyncs != 3 || st.FailedCommits != 2 {
		t.Errorf("Stats FailedSyncs %d, FailedCommits %d; want 3 and 2", st.FailedSyncs, st.FailedCommits)
	}
}

// holdSync makes the next sync of a recorded file wait until release is
// closed; entered is closed once it waits. Later syncs are told on synced,
// which must be received from.
type holdSync struct {
	entered, release chan struct{}
	synced           chan struct{}
	once             sync.Once
}

func holdNextSync(fsys *crashFS) *holdSync {
	h := &holdSync{entered: make(chan struct{}), release: make(chan struct{}), synced: make(chan struct{})}
	fsys.onSync(func() {
		first := false
		h.once.Do(func() { first = true })
		if first {
			close(h.entered)
			<-h.release
			return
		}
		h.synced <- struct{}{}
	})
	return h
}

// waitTaken waits until the committer took every queued request, which it
// judges before it looks at anything else.
func waitTaken(s *Store) {
	for s.Stats().QueueLen > 0 {
		time.Sleep(time.Millisecond) // polling the observable queue length, not timing
	}
}

// Ensure that while a frame is synced the committer judges the requests
// queued meanwhile against its writes, and that when its sync fails they fail
// with it, nothing of them reaches the log, and the store goes on from the
// last commit that succeeded.
func TestStore_Commit_FailedSyncFailsTheRequestsJudgedOnIt(t *testing.T) {
	s, fsys, _ := openFaulty(t)
	defer s.Close()
	ctx := context.Background()
	if err := s.Commit(ctx, write("a", 1)); err != nil {
		t.Fatal(err)
	}
	h := holdNextSync(fsys)
	first := make(chan error, 1)
	if err := s.Submit(ctx, write("a", 2), func(err error) { first <- err }); err != nil {
		t.Fatal(err)
	}
	<-h.entered
	chained, other := make(chan error, 1), make(chan error, 1)
	if err := s.Submit(ctx, write("a", 3), func(err error) { chained <- err }); err != nil {
		t.Fatal(err)
	}
	if err := s.Submit(ctx, write("z", 1), func(err error) { other <- err }); err != nil {
		t.Fatal(err)
	}
	waitTaken(s)
	fsys.onSync(nil)
	fsys.failNext(1)
	close(h.release)
	for name, ch := range map[string]chan error{"the failed": first, "the chained": chained, "the other": other} {
		if err := <-ch; !errors.Is(err, store.ErrCommit) || !errors.Is(err, errInjected) {
			t.Errorf("%s request = %v; want ErrCommit wrapping the failed sync", name, err)
		}
	}
	if r, ok, err := s.Get(ctx, "p", "a"); err != nil || !ok || r.Version != 1 {
		t.Errorf("Get(a) = %+v, %v, %v; want version 1", r, ok, err)
	}
	if _, ok, err := s.Get(ctx, "p", "z"); err != nil || ok {
		t.Errorf("Get(z) = %v, %v; want absent", ok, err)
	}
	if err := s.Commit(ctx, write("a", 2)); err != nil {
		t.Fatalf("Commit on the last acknowledged version = %v", err)
	}
	data, err := os.ReadFile(walPath(s.path))
	if err != nil {
		t.Fatal(err)
	}
	fp, _, err := loadFoldPoint(s.db, s.path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scanLog(walPath(s.path), data, fp, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range sc.writes {
		r, err := DecodeRecord(w.value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s@%d", w.key, r.Version))
	}
	if strings.Join(got, ",") != "a@1,a@2" {
		t.Errorf("the log replays %v; want the acknowledged a@1 and a@2", got)
	}
}

// Ensure that the next frame is written and synced while a done callback of
// the commit before it runs: callbacks run on a goroutine of their own,
// never between two syncs.
func TestStore_Submit_NextCommitSyncsWhileCallbackRuns(t *testing.T) {
	s, fsys, _ := openFaulty(t)
	defer s.Close()
	ctx := context.Background()
	h := holdNextSync(fsys)
	inCallback, releaseCallback := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	err := s.Submit(ctx, write("a", 1), func(err error) {
		close(inCallback)
		<-releaseCallback
		first <- err
	})
	if err != nil {
		t.Fatal(err)
	}
	<-h.entered
	second := make(chan error, 1)
	if err := s.Submit(ctx, write("b", 1), func(err error) { second <- err }); err != nil {
		t.Fatal(err)
	}
	waitTaken(s)
	close(h.release)
	<-inCallback
	select {
	case <-h.synced:
	case <-time.After(10 * time.Second):
		t.Fatal("the second commit was not synced while the first one's callback ran")
	}
	fsys.onSync(nil)
	close(releaseCallback)
	if err := <-first; err != nil {
		t.Errorf("first = %v", err)
	}
	if err := <-second; err != nil {
		t.Errorf("second = %v", err)
	}
	if st := s.Stats(); st.Commits != 2 || st.Batches != 2 {
		t.Errorf("Stats Commits %d, Batches %d; want 2 and 2", st.Commits, st.Batches)
	}
}

// Ensure that a crash while a checkpoint folds one log file into the file,
// with commits gone on into the other, leaves a store whose next Open
// replays both, in turn; and that when the first is lost the second is not
// replayed alone: the log is damaged, not torn.
func TestStore_Open_ReplaysBothLogFilesOfACheckpointInFlight(t *testing.T) {
	s, fsys, _ := openFaulty(t, WithWALSize(64<<10))
	held, release := make(chan struct{}), make(chan struct{})
	var hold, let sync.Once
	letGo := func() { let.Do(func() { close(release) }) }
	fsys.onBolt(func() {
		hold.Do(func() {
			close(held)
			<-release
		})
	})
	defer func() {
		letGo()
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	}()
	ctx := context.Background()
	big := make([]byte, 4000)
	n := 0
	// 16 commits fill the log; the checkpoint that follows may take a
	// while to reach the file on a busy machine.
	for waiting := true; waiting; {
		select {
		case <-held:
			waiting = false
		default:
			if n == 100 {
				select {
				case <-held:
					waiting = false
					continue
				case <-time.After(10 * time.Second):
					t.Fatalf("no checkpoint began after 100 commits of 4 KB and 10 s: %+v", s.Stats())
				}
			}
			w := []store.Write{{Bucket: "p", Key: fmt.Sprint("k", n), Record: store.Record{Version: 1, State: big}}}
			if err := s.Commit(ctx, w); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if err := s.Commit(ctx, write("after", 1)); err != nil {
		t.Fatalf("Commit while a checkpoint runs = %v", err)
	}
	// The checkpoint waits before it writes the file: a crash now leaves
	// the file without it.
	dir := t.TempDir()
	copied := filepath.Join(dir, "s.db")
	for _, suffix := range []string{"", "-wal", "-wal2"} {
		data, err := os.ReadFile(s.path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copied+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Open(copied, WithNoSync())
	if err != nil {
		t.Fatalf("Open of the crash copy = %v", err)
	}
	if got := c.LogRecords(); got != n+1 {
		t.Errorf("LogRecords = %d; want the %d writes of both log files", got, n+1)
	}
	for i := range n {
		if _, ok, err := c.Get(ctx, "p", fmt.Sprint("k", i)); !ok || err != nil {
			t.Errorf("k%d = %v, %v after the crash; want it", i, ok, err)
		}
	}
	if _, ok, err := c.Get(ctx, "p", "after"); !ok || err != nil {
		t.Errorf("after = %v, %v after the crash; want it", ok, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	for _, suffix := range []string{"", "-wal", "-wal2"} {
		data, err := os.ReadFile(s.path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copied+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(walPath(copied), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Open(copied, WithNoSync()); err == nil {
		c.Close()
		t.Fatal("Open without the first log file succeeded; want ErrCorrupt")
	} else if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), walPath(copied)) {
		t.Errorf("Open without the first log file = %v; want ErrCorrupt naming it", err)
	}
}
