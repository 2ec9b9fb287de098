package projection

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/livefold/livefold/boltstore"
)

// scanner is implemented by stores that can walk a bucket, as
// *boltstore.Store does.
type scanner interface {
	Scan(ctx context.Context, bucket string) iter.Seq2[boltstore.KeyRecord, error]
}

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
// ErrUnsupported, ctx's error).
func (r *Runtime[E, S, D]) Verify(ctx context.Context) ([]DamagedKey, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.gate.exit()
	sc, ok := r.store.(scanner)
	if !ok {
		return nil, fmt.Errorf("%w: projection %q: Verify needs a store with Scan", ErrUnsupported, r.name)
	}
	var damaged []DamagedKey
	for kr, err := range sc.Scan(ctx, r.name) {
		switch {
		case errors.Is(err, boltstore.ErrCorrupt):
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
