package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pgURL returns the connection string of the test database, from
// LIVEFOLD_PG_URL. Without it the test is skipped, except under CI, where a
// skip would pass a run that tested nothing: there it fails.
func pgURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("LIVEFOLD_PG_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("LIVEFOLD_PG_URL is not set; CI runs pgstore's tests under .ci/postgres.sh")
		}
		t.Skip("LIVEFOLD_PG_URL is not set; run the tests with ../.ci/postgres.sh go test ./...")
	}
	return url
}

// adminPool returns a pool on the test database for what the tests do
// behind a Store's back, closed when t ends.
func adminPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgURL(t))
	if err != nil {
		t.Fatalf("pgxpool.New = %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newTable returns the name of a table no other test uses, dropped when t
// ends (after the stores t closes at its end, whose cleanups run first).
func newTable(t testing.TB, admin *pgxpool.Pool) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails
	name := "lf_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Errorf("drop table %s: %v", name, err)
		}
	})
	return name
}

// exec runs sql on pool, failing t on an error, and returns the rows it
// affected.
func exec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	tag, err := pool.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tag.RowsAffected()
}
