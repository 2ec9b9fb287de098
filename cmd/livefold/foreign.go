package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
)

// minForeignRecords is how many records a projection must have, none of
// them a livefold record, to be reported as not a livefold projection
// rather than record by record: one damaged record says nothing about its
// projection, while a bucket of another program's values fails on every
// record.
const minForeignRecords = 2

// foreignJSON is a projection none of whose records is a livefold record:
// a bucket of a bbolt file that livefold did not write, most likely.
type foreignJSON struct {
	Projection string `json:"projection"`
	Records    int64  `json:"records"`
	Example    string `json:"example"` // the first record's key and reason
}

// String is the one line every command prints for f.
func (f foreignJSON) String() string {
	return fmt.Sprintf("not a livefold projection: %s: none of its %d record(s) is a livefold record (%s)",
		displayKey(f.Projection), f.Records, f.Example)
}

// newForeign describes projection, whose records failed verification,
// from the first one's key and error.
func newForeign(projection string, records int64, key string, err error) foreignJSON {
	return foreignJSON{
		Projection: projection, Records: records,
		Example: fmt.Sprintf("key %s: %s", displayKey(key), reasonOf(err)),
	}
}

// probeForeign reports whether projection holds at least minForeignRecords
// records and no livefold record, and then describes it. It stops at the
// first livefold record, so that a livefold projection costs one record's
// read; only a projection that is foreign, or damaged from its first record
// on, is read further.
func probeForeign(ctx context.Context, st *boltstore.Store, projection string) (foreignJSON, bool, error) {
	var records int64
	var firstKey string
	var firstErr error
	for kr, err := range st.Scan(ctx, projection) {
		if err == nil {
			return foreignJSON{}, false, nil
		}
		if !errors.Is(err, store.ErrCorrupt) {
			return foreignJSON{}, false, err
		}
		if records == 0 {
			firstKey, firstErr = kr.Key, err
		}
		records++
	}
	if records < minForeignRecords {
		return foreignJSON{}, false, nil
	}
	return newForeign(projection, records, firstKey, firstErr), true, nil
}

// foreignProjectionError is the error of a command that reads one projection
// found to be foreign.
func foreignProjectionError(file string, f foreignJSON) error {
	return fmt.Errorf("%w: %s of %s holds %d record(s), none of them a livefold record (%s)",
		errForeignProjection, displayKey(f.Projection), file, f.Records, f.Example)
}

// foreignFileError is the error of a command that found every projection of
// file holding records to be foreign: n of them.
func foreignFileError(file string, n int) error {
	return fmt.Errorf("%w: %s is a bbolt file, but none of its %d projection(s) holds a livefold record",
		errForeignFile, file, n)
}
