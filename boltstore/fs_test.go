package boltstore

import "testing"

// Ensure that syncing a store's directory succeeds on every platform: on
// Windows, where a directory cannot be flushed, it does nothing rather than
// fail every Open.
func TestSyncDir_StoreDirectory(t *testing.T) {
	if err := syncDir(t.TempDir()); err != nil {
		t.Fatalf("syncDir = %v", err)
	}
}
