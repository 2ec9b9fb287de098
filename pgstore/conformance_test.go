package pgstore_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/store"
	"github.com/livefold/livefold/store/storetest"
)

// Ensure that Store keeps the store contract with states in bytea alone and
// with their JSON view beside them, each rule on a table of its own, and
// with a second Store on the same table as the second writer.
func TestStore_Conformance(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []pgstore.Option
		// damage is the SET clause Damage applies to a row: each
		// configuration damages another column the digest covers.
		damage string
	}{
		{"bytea", nil, `state = state || '\x00'::bytea`},
		{"jsonb", []pgstore.Option{pgstore.WithJSONB()}, `position = position + 1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The rules wait mostly for the database: the two
			// configurations share the time.
			t.Parallel()
			storetest.Run(t, harness(t, c.damage, c.opts...))
		})
	}
}

// harness opens Stores with opts for storetest, each Open on a new table.
func harness(t *testing.T, damage string, opts ...pgstore.Option) storetest.Harness {
	url := pgURL(t)
	admin := adminPool(t)
	open := func(t *testing.T, table string) store.Store {
		t.Helper()
		s, err := pgstore.Open(t.Context(), url, append(opts, pgstore.WithTable(table))...)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		return s
	}
	return storetest.Harness{
		Open: func(t *testing.T) store.Store {
			return open(t, newTable(t, admin))
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			return open(t, s.(*pgstore.Store).Table())
		},
		Damage: func(t *testing.T, s store.Store, bucket, key string) store.Store {
			table := pgx.Identifier{s.(*pgstore.Store).Table()}.Sanitize()
			if n := exec(t, admin, "UPDATE "+table+" SET "+damage+" WHERE projection = $1 AND key = $2", bucket, key); n != 1 {
				t.Fatalf("damage %q/%q changed %d rows; want 1", bucket, key, n)
			}
			return s
		},
		// Another pool on the same table: a second writer as a second
		// process would be.
		Second: func(t *testing.T, s store.Store) store.Store {
			return open(t, s.(*pgstore.Store).Table())
		},
	}
}
