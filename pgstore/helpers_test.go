package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/store"
)

// waitTimeout bounds every wait for an outcome, so that a store that never
// reports fails the test instead of hanging it. It is a guard against
// hangs, not an assertion about speed.
const waitTimeout = time.Minute

// openStore opens a Store on url, closed when t ends.
func openStore(t *testing.T, url string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), url, opts...)
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

// rec returns a record with every field set.
func rec(version, stamp uint64, state string) store.Record {
	return store.Record{
		Version:   version,
		Stamp:     stamp,
		Lineage:   stamp + 1000,
		UpdatedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		Position:  version*10 + 1,
		State:     []byte(state),
	}
}

func create(bucket, key string, r store.Record) store.Write {
	return store.Write{Bucket: bucket, Key: key, Record: r}
}

func replace(bucket, key string, old, r store.Record) store.Write {
	return store.Write{Bucket: bucket, Key: key, Expect: old.Version, ExpectStamp: old.Stamp, Record: r}
}

// submit submits writes and returns the channel their outcome arrives on.
func submit(t *testing.T, s store.Store, writes ...store.Write) <-chan error {
	t.Helper()
	ch := make(chan error, 1)
	if err := s.Submit(context.Background(), writes, func(err error) { ch <- err }); err != nil {
		t.Fatalf("Submit = %v", err)
	}
	return ch
}

// outcome waits for the outcome on ch.
func outcome(t *testing.T, ch <-chan error) error {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case err := <-ch:
		return err
	case <-timer.C:
		t.Fatalf("no outcome within %v", waitTimeout)
		return nil
	}
}

// commit submits writes and fails t unless they commit.
func commit(t *testing.T, s store.Store, writes ...store.Write) {
	t.Helper()
	if err := outcome(t, submit(t, s, writes...)); err != nil {
		t.Fatalf("outcome = %v; want nil", err)
	}
}

// expectRecord fails t unless Get finds want at bucket/key.
func expectRecord(t *testing.T, s store.Store, bucket, key string, want store.Record) {
	t.Helper()
	got, ok, err := s.Get(context.Background(), bucket, key)
	switch {
	case err != nil:
		t.Errorf("Get(%q, %q) = %v", bucket, key, err)
	case !ok:
		t.Errorf("Get(%q, %q) found nothing; want version %d", bucket, key, want.Version)
	case got.Version != want.Version || got.Stamp != want.Stamp || string(got.State) != string(want.State):
		t.Errorf("Get(%q, %q) = version %d stamp %d state %q; want version %d stamp %d state %q",
			bucket, key, got.Version, got.Stamp, got.State, want.Version, want.Stamp, want.State)
	}
}

// expectAbsent fails t unless Get finds nothing at bucket/key.
func expectAbsent(t *testing.T, s store.Store, bucket, key string) {
	t.Helper()
	got, ok, err := s.Get(context.Background(), bucket, key)
	switch {
	case err != nil:
		t.Errorf("Get(%q, %q) = %v", bucket, key, err)
	case ok:
		t.Errorf("Get(%q, %q) found version %d; want nothing", bucket, key, got.Version)
	}
}
