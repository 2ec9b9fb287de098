//go:build !windows

package boltstore

import (
	"fmt"
	"os"
)

// syncDir makes the entries of dir (files created, linked or removed in it)
// durable: fsync of the directory, which on macOS os.File.Sync makes
// F_FULLFSYNC.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("boltstore: open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("boltstore: sync directory %s: %w", dir, err)
	}
	return nil
}
