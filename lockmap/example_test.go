package lockmap_test

import (
	"fmt"

	"github.com/livefold/livefold/lockmap"
)

func ExampleMap_TryLock() {
	locks := lockmap.New[int]()
	unlock, ok := locks.TryLock(42)
	fmt.Println("first:", ok)
	_, again := locks.TryLock(42) // never waits
	fmt.Println("while held:", again)
	unlock()
	unlock, ok = locks.TryLock(42)
	fmt.Println("after unlock:", ok)
	unlock()
	// Output:
	// first: true
	// while held: false
	// after unlock: true
}
