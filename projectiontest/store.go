package projectiontest

import (
	"path/filepath"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/pubsub"
)

// OpenStore opens a store in a fresh file under t.TempDir(), without fsync
// (boltstore.WithNoSync) unless opts say otherwise, and closes it when the
// test ends. Options are applied after WithNoSync.
func OpenStore(t testing.TB, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "livefold.db")
	st, err := boltstore.Open(path, append([]boltstore.Option{boltstore.WithNoSync()}, opts...)...)
	if err != nil {
		t.Fatalf("projectiontest: open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("projectiontest: close store: %v", err)
		}
	})
	return st
}

// NewBus returns a bus that is closed when the test ends.
func NewBus(t testing.TB, opts ...pubsub.Option) *pubsub.Bus {
	t.Helper()
	b := pubsub.New(opts...)
	t.Cleanup(b.Close)
	return b
}
