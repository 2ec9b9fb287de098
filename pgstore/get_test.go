package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/store"
)

// Ensure that many concurrent Gets, which the store reads together, each
// return their own key's record, nothing for an absent key, a
// *store.CorruptError for a damaged one, and that a Get whose context is
// cancelled returns its error without failing the others.
func TestStore_Get_Concurrent(t *testing.T) {
	url := pgURL(t)
	admin := adminPool(t)
	table := newTable(t, admin)
	s := openStore(t, url, pgstore.WithTable(table))
	const keys = 40
	var writes []store.Write
	for i := range keys {
		writes = append(writes, create("b", fmt.Sprintf("k%d", i), rec(uint64(i+1), uint64(i), fmt.Sprintf("state %d", i))))
	}
	commit(t, s, writes...)
	exec(t, admin, "UPDATE "+pgx.Identifier{table}.Sanitize()+" SET state = state || '\\x00'::bytea WHERE key = 'k7'")

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 400 {
		wg.Go(func() {
			i := g % (keys + 5) // the last five are absent
			key := fmt.Sprintf("k%d", i)
			ctx := context.Background()
			if g%50 == 49 {
				ctx = cancelled
			}
			r, ok, err := s.Get(ctx, "b", key)
			switch {
			case ctx == cancelled:
				if !errors.Is(err, context.Canceled) {
					errs <- fmt.Errorf("Get(%s) with a cancelled context = %v; want context.Canceled", key, err)
				}
			case i == 7:
				if !errors.Is(err, store.ErrCorrupt) {
					errs <- fmt.Errorf("Get(%s) of a damaged record = %v; want store.ErrCorrupt", key, err)
				}
			case err != nil:
				errs <- fmt.Errorf("Get(%s) = %v", key, err)
			case i >= keys && ok:
				errs <- fmt.Errorf("Get(%s) found version %d; want nothing", key, r.Version)
			case i < keys && (!ok || r.Version != uint64(i+1) || string(r.State) != fmt.Sprintf("state %d", i)):
				errs <- fmt.Errorf("Get(%s) = %v, version %d, state %q; want version %d", key, ok, r.Version, r.State, i+1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
