package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
	bolt "go.etcd.io/bbolt"
)

// projectionBucket returns the bucket of projection in tx, or an error
// wrapping errNoProjection that names the projections the file has.
func projectionBucket(tx *bolt.Tx, file, projection string) (*bolt.Bucket, error) {
	if b := tx.Bucket([]byte(projection)); b != nil {
		return b, nil
	}
	var names []string
	_ = tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if b != nil {
			names = append(names, displayKey(string(name)))
		}
		return nil
	})
	sort.Strings(names)
	have := "it has none"
	if len(names) > 0 {
		have = "it has: " + strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("%w: %s in %s (%s)", errNoProjection, displayKey(projection), file, have)
}

// decodeValue verifies and decodes the value v stored under projection and
// key, as boltstore does: a nil value is a nested bucket, which boltstore
// never creates. The returned error is a *store.CorruptError naming
// projection and key; the returned State aliases v.
func decodeValue(v []byte, projection, key string) (store.Record, error) {
	if v == nil {
		return store.Record{}, &store.CorruptError{
			Bucket: projection, Key: key, Reason: "key holds a nested bucket, not a record",
		}
	}
	r, err := boltstore.DecodeRecord(v)
	if err != nil {
		ce := &store.CorruptError{Bucket: projection, Key: key, Reason: err.Error()}
		var de *store.CorruptError
		if errors.As(err, &de) {
			ce.Reason = de.Reason
		}
		return store.Record{}, ce
	}
	return r, nil
}

// reasonOf returns the reason of a *store.CorruptError, or err's text.
func reasonOf(err error) string {
	var ce *store.CorruptError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return err.Error()
}
