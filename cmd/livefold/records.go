package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
)

// checkProjection returns nil if projection exists in st (in the file or
// only in its log), or else an error wrapping errNoProjection that names the
// projections the file has. It lists every projection, so the commands call
// it only when a read found nothing.
func checkProjection(ctx context.Context, st *boltstore.Store, file, projection string) error {
	infos, err := st.Buckets(ctx)
	if err != nil {
		return fmt.Errorf("livefold: %s: %w", file, err)
	}
	var names []string
	for _, b := range infos {
		if b.Name == projection {
			return nil
		}
		names = append(names, displayKey(b.Name))
	}
	have := "it has none"
	if len(names) > 0 {
		have = "it has: " + strings.Join(names, ", ")
	}
	return fmt.Errorf("%w: %s in %s (%s)", errNoProjection, displayKey(projection), file, have)
}

// readError wraps err, the failure of a read of file. A projection name or
// key that no store can hold (empty, too long, not UTF-8) is a usage error.
func readError(file string, err error) error {
	if errors.Is(err, store.ErrInvalidName) || errors.Is(err, store.ErrInvalidKey) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return fmt.Errorf("livefold: %s: %w", file, err)
}

// reasonOf returns the reason of a *store.CorruptError, or err's text.
func reasonOf(err error) string {
	var ce *store.CorruptError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return err.Error()
}
