//go:build !linux

package main

import "os"

// fdatasync flushes f to the device; where fdatasync(2) is not available,
// through File.Sync, which also flushes the rest of the file's metadata.
func fdatasync(f *os.File) error { return f.Sync() }
