package boltstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
)

// Ensure that Open creates the file with mode 0600.
func TestOpen_NewFile_Mode0600(t *testing.T) {
	s := openStore(t)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatalf("Stat = %v", err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v; want 0600", got)
	}
}

// Ensure that opening a file another Store holds fails with ErrLocked within
// the timeout instead of waiting.
func TestOpen_HeldFile_ErrLockedWithinTimeout(t *testing.T) {
	s := openStore(t)
	for _, timeout := range []time.Duration{200 * time.Millisecond, 0} {
		start := time.Now()
		s2, err := boltstore.Open(s.Path(), boltstore.WithOpenTimeout(timeout))
		if err == nil {
			s2.Close()
			t.Fatalf("Open(held, %v) succeeded; want ErrLocked", timeout)
		}
		if !errors.Is(err, boltstore.ErrLocked) {
			t.Fatalf("Open(held, %v) = %v; want ErrLocked", timeout, err)
		}
		if d := time.Since(start); d > timeout+500*time.Millisecond {
			t.Errorf("Open(held, %v) took %v", timeout, d)
		}
	}
}

// Ensure that a file can be opened again after Close, with its data.
func TestOpen_AfterClose_KeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, put("p", "k", 0, rec(1, "x")))
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	s = reopen(t, path)
	if r, ok := mustGet(t, s, "p", "k"); !ok || string(r.State) != "x" {
		t.Errorf("Get after reopen = %+v, %v; want state x", r, ok)
	}
}

// Ensure that an unopenable path is an ordinary error, not ErrLocked.
func TestOpen_BadPath_Error(t *testing.T) {
	_, err := boltstore.Open(filepath.Join(t.TempDir(), "missing", "dir", "s.db"))
	if err == nil || errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("Open(bad path) = %v; want a non-lock error", err)
	}
}

func reopen(t *testing.T, path string, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, opts...)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Ensure that every method fails with ErrClosed after Close and that a second
// Close returns nil.
func TestStore_Close_ThenErrClosed(t *testing.T) {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	ctx := context.Background()
	w := []store.Write{put("p", "k", 0, rec(1, "x"))}
	called := false
	if err := s.Submit(ctx, w, func(error) { called = true }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Submit = %v; want ErrClosed", err)
	}
	if err := s.Commit(ctx, w); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Commit = %v; want ErrClosed", err)
	}
	if _, _, err := s.Get(ctx, "p", "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get = %v; want ErrClosed", err)
	}
	if _, err := s.Buckets(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Buckets = %v; want ErrClosed", err)
	}
	if _, err := s.Verify(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Verify = %v; want ErrClosed", err)
	}
	for _, err := range s.Scan(ctx, "p") {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("Scan yielded %v; want ErrClosed", err)
		}
	}
	n := 0
	for _, err := range s.Keys(ctx, "p") {
		n++
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("Keys yielded %v; want ErrClosed", err)
		}
	}
	if n != 1 {
		t.Errorf("Keys yielded %d elements; want one ErrClosed", n)
	}
	if err := s.Checkpoint(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Checkpoint = %v; want ErrClosed", err)
	}
	if called {
		t.Error("done was called for a rejected Submit")
	}
}

// Ensure that Close waits until queued requests committed and their
// callbacks ran.
func TestStore_Close_WaitsForQueued(t *testing.T) {
	eachConfig(t, func(t *testing.T, opts ...boltstore.Option) {
		path := filepath.Join(t.TempDir(), "s.db")
		s, err := boltstore.Open(path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		b := block(t, s)
		const n = 20
		var mu sync.Mutex
		var errs []error
		for i := range n {
			w := []store.Write{put("p", key(i), 0, rec(1, "v"))}
			if err := s.Submit(context.Background(), w, func(err error) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}); err != nil {
				t.Fatalf("Submit = %v", err)
			}
		}
		closed := make(chan error)
		go func() { closed <- s.Close() }()
		b.unblock()
		if err := <-closed; err != nil {
			t.Fatalf("Close = %v", err)
		}
		if len(errs) != n {
			t.Fatalf("%d callbacks ran before Close returned; want %d", len(errs), n)
		}
		for _, err := range errs {
			if err != nil {
				t.Errorf("queued request failed: %v", err)
			}
		}
		s = reopen(t, path)
		for i := range n {
			if _, ok := mustGet(t, s, "p", key(i)); !ok {
				t.Errorf("key %s missing after Close and reopen", key(i))
			}
		}
	})
}

// Ensure that Submits racing with Close either fail with ErrClosed or are
// committed and reported; none is lost and nothing panics.
func TestStore_Close_ConcurrentSubmitLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.Open(path, boltstore.WithNoSync(), boltstore.WithQueueSize(4))
	if err != nil {
		t.Fatal(err)
	}
	const writers, per = 8, 50
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted = map[string]bool{}
		reported = map[string]error{}
	)
	start := make(chan struct{})
	someAccepted := make(chan struct{}) // closed once Close can race with active writers
	var acceptOnce sync.Once
	for g := range writers {
		wg.Go(func() {
			<-start
			for i := range per {
				k := key(g*per + i)
				err := s.Submit(context.Background(), []store.Write{put("p", k, 0, rec(1, "v"))}, func(err error) {
					mu.Lock()
					reported[k] = err
					mu.Unlock()
				})
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Submit = %v", err)
					return
				}
				mu.Lock()
				accepted[k] = true
				if len(accepted) == writers*per/4 {
					acceptOnce.Do(func() { close(someAccepted) })
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	<-someAccepted
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(accepted) == writers*per {
		t.Log("every Submit finished before Close; the race was not exercised")
	}
	if len(reported) != len(accepted) {
		t.Errorf("%d requests accepted, %d reported", len(accepted), len(reported))
	}
	s = reopen(t, path)
	for k := range accepted {
		if err, ok := reported[k]; !ok || err != nil {
			t.Errorf("accepted %s: reported %v, %v; want nil", k, ok, err)
		}
		if _, ok := mustGet(t, s, "p", k); !ok {
			t.Errorf("accepted %s is not on disk", k)
		}
	}
}

// Ensure that a Submit from inside a done callback that finds room in the
// queue returns at once, and that its request commits and is reported after
// the callback that submitted it.
func TestStore_Submit_FromDoneWithRoom(t *testing.T) {
	s := openStore(t, boltstore.WithNoSync(), boltstore.WithQueueSize(1))
	ctx := context.Background()
	var events []string // appended only on the completer goroutine
	var nestedErr error
	nested := make(chan error, 1)
	o := newOutcome()
	err := s.Submit(ctx, []store.Write{put("p", "a", 0, rec(1, "x"))}, func(err error) {
		nestedErr = s.Submit(ctx, []store.Write{put("p", "b", 0, rec(1, "y"))}, func(err error) {
			events = append(events, "nested")
			nested <- err
		})
		events = append(events, "outer")
		o.done(err)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.wait(t); err != nil {
		t.Fatalf("outer request = %v", err)
	}
	if nestedErr != nil {
		t.Fatalf("Submit inside done with room = %v; want nil", nestedErr)
	}
	if err := <-nested; err != nil {
		t.Errorf("nested request = %v", err)
	}
	if !slices.Equal(events, []string{"outer", "nested"}) {
		t.Errorf("callbacks ran as %v; want [outer nested]", events)
	}
	if _, ok := mustGet(t, s, "p", "b"); !ok {
		t.Error("nested Submit's write is missing")
	}
}

func key(i int) string {
	const digits = "0123456789"
	b := []byte("k00000")
	for j := len(b) - 1; j > 0 && i > 0; j-- {
		b[j] = digits[i%10]
		i /= 10
	}
	return string(b)
}
