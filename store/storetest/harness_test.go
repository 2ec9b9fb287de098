package storetest_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
	"github.com/livefold/livefold/store/storetest"
	bolt "go.etcd.io/bbolt"
)

// boltHarness opens boltstores without fsync, each wrapped by wrap, which
// may be nil; the hooks reach the boltstore through unwrap.
func boltHarness(wrap func(store.Store) store.Store) storetest.Harness {
	if wrap == nil {
		wrap = func(s store.Store) store.Store { return s }
	}
	open := func(t *testing.T, path string) store.Store {
		t.Helper()
		s, err := boltstore.Open(path, boltstore.WithNoSync())
		if err != nil {
			t.Fatalf("boltstore.Open = %v", err)
		}
		return wrap(s)
	}
	return storetest.Harness{
		Open: func(t *testing.T) store.Store {
			return open(t, filepath.Join(t.TempDir(), "store.db"))
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			return open(t, unwrap(s).Path())
		},
		Damage: func(t *testing.T, s store.Store, bucket, key string) store.Store {
			path := unwrap(s).Path()
			if err := s.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
			damage(t, path, bucket, key)
			return open(t, path)
		},
		Second: func(t *testing.T, s store.Store) store.Store { return s },
	}
}

// unwrap returns the boltstore under any number of wrappers that have an
// Unwrap method.
func unwrap(s store.Store) *boltstore.Store {
	for {
		switch v := s.(type) {
		case *boltstore.Store:
			return v
		case interface{ Unwrap() store.Store }:
			s = v.Unwrap()
		default:
			panic("storetest_test: no boltstore under the store")
		}
	}
}

// damage flips the last byte of the stored value of bucket/key, which fails
// its checksum, while no Store holds the file.
func damage(t *testing.T, path, bucket, key string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bolt.Open = %v", err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		v := bytes.Clone(b.Get([]byte(key)))
		v[len(v)-1] ^= 0xff
		return b.Put([]byte(key), v)
	})
	if err != nil {
		t.Fatalf("damage: %v", err)
	}
}

// wrapper forwards everything to the store it embeds; the stores of the
// tests that embed it override a method or two.
type wrapper struct{ store.Store }

func (w wrapper) Unwrap() store.Store { return w.Store }
