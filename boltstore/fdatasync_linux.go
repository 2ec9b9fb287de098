package boltstore

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data, and its size when it changed, without the
// other metadata that fsync also writes.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
