package storetest_test

import (
	"testing"

	"github.com/livefold/livefold/store"
	"github.com/livefold/livefold/store/storetest"
)

// Ensure that Faulty with nothing armed keeps the store contract.
func TestFaulty_Conformance(t *testing.T) {
	h := boltHarness(func(s store.Store) store.Store { return storetest.NewFaulty(s) })
	h.KnownBugs = map[string]string{"RoundTrip/UpdatedAtUnixEpoch": boltEpochBug}
	storetest.Run(t, h)
}

// boltEpochBug is why boltstore breaks RoundTrip/UpdatedAtUnixEpoch.
const boltEpochBug = "boltstore encodes UpdatedAt as Unix nanoseconds with 0 for the zero time, so the epoch reads back as the zero time"
