package projection

import (
	"context"
	"errors"

	"github.com/livefold/livefold/store"
)

// DamagedKey is one snapshot that Verify could not read.
type DamagedKey struct {
	Key string
	Err error // satisfies errors.Is(Err, ErrCorrupt)
}

// Verify reads every snapshot of the projection from the store, checks its
// record and decodes its state into S, and returns the keys that failed,
// in key order. It goes further than boltstore.Store.Verify, which checks
// records but cannot know the state type. It does not lock keys or use the
// cache, so it may run beside applies; it sees one consistent view of the
// file. The returned error is for failing to walk at all (ErrClosed,
// ErrUnsupported when the store cannot scan, ctx's error).
func (r *Runtime[E, S, D]) Verify(ctx context.Context) ([]DamagedKey, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.gate.exit()
	var damaged []DamagedKey
	for kr, err := range r.store.Scan(ctx, r.current().bucket) {
		switch {
		case errors.Is(err, store.ErrCorrupt):
			damaged = append(damaged, DamagedKey{Key: kr.Key, Err: r.corrupt(kr.Key, err)})
		case err != nil:
			return damaged, r.storeErr("", err)
		default:
			if _, err := r.codec.decode(kr.Record.State); err != nil {
				damaged = append(damaged, DamagedKey{Key: kr.Key, Err: r.corrupt(kr.Key, err)})
			}
		}
	}
	return damaged, nil
}
