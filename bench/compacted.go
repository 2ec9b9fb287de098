package main

import (
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// compactTxMax is the bytes bbolt's Compact copies per transaction, the
// default of `livefold compact`.
const compactTxMax = 8 << 20

// compactedSize copies the closed bbolt file at path as `livefold compact`
// does (bbolt's Compact, which fills every page) and returns the size of
// the copy, which it removes.
func compactedSize(path string) (int64, error) {
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dest := path + ".compact"
	defer os.Remove(dest)
	dst, err := bolt.Open(dest, 0o600, &bolt.Options{NoSync: true, PageSize: src.Info().PageSize})
	if err != nil {
		return 0, err
	}
	err = bolt.Compact(dst, src, compactTxMax)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
