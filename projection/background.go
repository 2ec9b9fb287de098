package projection

import (
	"context"
	"sync"
)

// background runs a runtime's own work that outlives the call that started
// it, such as removing a previous generation. Close cancels it and waits;
// what it leaves undone, the next RebuildAll or New finishes.
type background struct {
	mu     sync.Mutex // guards cancel and closed
	cancel []context.CancelFunc
	closed bool
	wg     sync.WaitGroup
}

// run runs fn on a goroutine of its own with a context that Close cancels;
// after Close it does nothing.
func (b *background) run(fn func(ctx context.Context)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = append(b.cancel, cancel)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer cancel()
		fn(ctx)
	}()
}

// close cancels every goroutine started and waits for them to end.
func (b *background) close() {
	b.mu.Lock()
	b.closed = true
	for _, c := range b.cancel {
		c()
	}
	b.cancel = nil
	b.mu.Unlock()
	b.wg.Wait()
}
