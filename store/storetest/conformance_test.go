package storetest_test

import (
	"context"
	"fmt"
	"iter"
	"testing"

	"github.com/livefold/livefold/store"
	"github.com/livefold/livefold/store/storetest"
)

// Ensure that Faulty with nothing armed keeps the store contract.
func TestFaulty_Conformance(t *testing.T) {
	h := boltHarness(func(s store.Store) store.Store { return storetest.NewFaulty(s) })
	storetest.Run(t, h)
}

// noWalks is a store that cannot walk buckets and says so, as the contract
// allows.
type noWalks struct{ wrapper }

func (noWalks) Scan(context.Context, string) iter.Seq2[store.KeyRecord, error] {
	return func(yield func(store.KeyRecord, error) bool) {
		yield(store.KeyRecord{}, fmt.Errorf("noWalks: %w", store.ErrUnsupported))
	}
}

func (noWalks) Keys(context.Context, string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		yield("", fmt.Errorf("noWalks: %w", store.ErrUnsupported))
	}
}

// Ensure that a store whose Scan and Keys yield store.ErrUnsupported passes:
// the rules about walks are skipped, the others check Get alone.
func TestRun_StoreWithoutWalks_Passes(t *testing.T) {
	h := boltHarness(func(s store.Store) store.Store { return noWalks{wrapper{s}} })
	storetest.Run(t, h)
}
