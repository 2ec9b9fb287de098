package lockmap

import (
	"context"
	"errors"
	"fmt"
)

var (
	// ErrNotAcquired is returned by LockContext when its context ended before
	// the key's lock could be taken. The returned error also wraps ctx.Err()
	// (and context.Cause(ctx) when it differs), so errors.Is(err,
	// context.Canceled) and errors.Is(err, context.DeadlineExceeded) work.
	ErrNotAcquired = errors.New("lockmap: lock not acquired")
)

// errMsgDoubleUnlock is the panic value of an unlock func called a second time.
const errMsgDoubleUnlock = "lockmap: unlock of unlocked key"

// notAcquired builds the error LockContext returns once ctx is done.
func notAcquired(ctx context.Context) error {
	err := ctx.Err()
	// A cause set with context.WithCancelCause says why the caller gave up;
	// keep it, but never instead of ctx.Err(), which callers test with errors.Is.
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
		return fmt.Errorf("%w: %w: %w", ErrNotAcquired, err, cause)
	}
	return fmt.Errorf("%w: %w", ErrNotAcquired, err)
}
