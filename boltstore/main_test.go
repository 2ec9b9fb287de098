package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// configs are the option sets that change the commit code path.
var configs = []struct {
	name string
	opts []boltstore.Option
}{
	{"durable", nil},
	{"nosync", []boltstore.Option{boltstore.WithNoSync()}},
	{"durable-nowal", []boltstore.Option{boltstore.WithoutWAL()}},
	{"nosync-nowal", []boltstore.Option{boltstore.WithNoSync(), boltstore.WithoutWAL()}},
}

// eachConfig runs fn once per configuration in configs.
func eachConfig(t *testing.T, fn func(t *testing.T, opts ...boltstore.Option)) {
	t.Helper()
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) { fn(t, c.opts...) })
	}
}

// openStore opens a store in a fresh temporary directory and closes it when
// the test ends.
func openStore(t testing.TB, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "store.db"), opts...)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return s
}

func rec(version uint64, state string) store.Record {
	return store.Record{
		Version:   version,
		UpdatedAt: time.Unix(1700000000, 123456789),
		Position:  version * 10,
		State:     []byte(state),
	}
}

func put(bucket, key string, expect uint64, r store.Record) store.Write {
	return store.Write{Bucket: bucket, Key: key, Expect: expect, Record: r}
}

func mustCommit(t testing.TB, s *boltstore.Store, writes ...store.Write) {
	t.Helper()
	if err := s.Commit(context.Background(), writes); err != nil {
		t.Fatalf("Commit = %v", err)
	}
}

func mustGet(t testing.TB, s *boltstore.Store, bucket, key string) (store.Record, bool) {
	t.Helper()
	r, ok, err := s.Get(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("Get(%q, %q) = %v", bucket, key, err)
	}
	return r, ok
}

// blocker holds the Store inside a done callback, during which it takes no
// request off the queue, so that requests submitted meanwhile queue up and
// form one batch when it is released.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

// block submits a request whose callback blocks the Store, and returns once
// the callback runs.
func block(t *testing.T, s *boltstore.Store) *blocker {
	t.Helper()
	b := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
	err := s.Submit(context.Background(), nil, func(error) {
		close(b.entered)
		<-b.release
	})
	if err != nil {
		t.Fatalf("Submit(blocker) = %v", err)
	}
	<-b.entered
	return b
}

func (b *blocker) unblock() { close(b.release) }

// outcome records the error given to one done callback.
type outcome struct {
	ch chan error
}

func newOutcome() *outcome { return &outcome{ch: make(chan error, 1)} }

func (o *outcome) done(err error) { o.ch <- err }

func (o *outcome) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-o.ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("done was not called")
		return nil
	}
}

func submit(t *testing.T, s *boltstore.Store, writes ...store.Write) *outcome {
	t.Helper()
	o := newOutcome()
	if err := s.Submit(context.Background(), writes, o.done); err != nil {
		t.Fatalf("Submit = %v", err)
	}
	return o
}
