package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
	"github.com/livefold/livefold/store/storetest"
)

// Ensure that Store keeps the store contract with and without its
// write-ahead log, and with a log small enough that checkpoints run between
// the commits of one rule.
func TestStore_Conformance(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []boltstore.Option
	}{
		{"wal", nil},
		{"nowal", []boltstore.Option{boltstore.WithoutWAL()}},
		{"smallwal", []boltstore.Option{boltstore.WithWALSize(64 << 10)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Run(t, harness(append([]boltstore.Option{boltstore.WithNoSync()}, c.opts...)...))
		})
	}
}

// harness opens stores with opts for storetest.
func harness(opts ...boltstore.Option) storetest.Harness {
	open := func(t *testing.T, path string) store.Store {
		t.Helper()
		s, err := boltstore.Open(path, opts...)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		return s
	}
	return storetest.Harness{
		Open: func(t *testing.T) store.Store {
			return open(t, filepath.Join(t.TempDir(), "store.db"))
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			return open(t, s.(*boltstore.Store).Path())
		},
		Damage: func(t *testing.T, s store.Store, bucket, key string) store.Store {
			path := s.(*boltstore.Store).Path()
			if err := s.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
			damage(t, path, bucket, key, func(v []byte) { v[len(v)-1] ^= 0xff })
			return open(t, path)
		},
		// One Store per file and process: its second writer is itself.
		Second: func(t *testing.T, s store.Store) store.Store { return s },
	}
}
