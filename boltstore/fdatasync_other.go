//go:build !linux

package boltstore

import "os"

// fdatasync is the strongest flush of f the platform offers where it has no
// fdatasync: on macOS, os.File.Sync is fcntl F_FULLFSYNC, which also empties
// the drive's write cache (plain fsync does not), falling back to fsync where
// the file system refuses it; on Windows it is FlushFileBuffers.
func fdatasync(f *os.File) error { return f.Sync() }
