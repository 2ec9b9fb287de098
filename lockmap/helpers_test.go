package lockmap_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/livefold/livefold/lockmap"
)

// waitRefs yields until want goroutines hold or wait on key, so that a test
// acts only once a waiter it started has registered.
func waitRefs[K comparable](t *testing.T, m *lockmap.Map[K], key K, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for lockmap.Refs(m, key) != want {
		if time.Now().After(deadline) {
			t.Fatalf("Refs(%v) = %d; want %d", key, lockmap.Refs(m, key), want)
		}
		runtime.Gosched()
	}
}
