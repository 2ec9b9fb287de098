package boltstore

import (
	"fmt"
	"runtime/debug"

	"github.com/livefold/livefold/store"
)

// guard runs fn, which reads or writes the file at path through bbolt, and
// turns a panic of bbolt, or a memory fault on its mapping of the file, into
// an error wrapping store.ErrCorrupt.
//
// bbolt trusts its pages: a damaged one makes it panic (an invalid page
// type, an index out of range) or read beyond the end of its mapping, which
// faults. A fault is fatal to the process unless the goroutine asked for a
// panic instead (debug.SetPanicOnFault), so fn must do all its work with
// bbolt on the calling goroutine. fn must not call code outside this
// package: a panic of a caller's function would be reported as a damaged
// file.
func guard(path string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = damagedFileError(path, p)
		}
	}()
	return fn()
}

// damagedFileError describes the panic p of bbolt on the file at path.
func damagedFileError(path string, p any) error {
	return fmt.Errorf("boltstore: %s: bbolt failed on a damaged page (%v): %w", path, p, store.ErrCorrupt)
}
