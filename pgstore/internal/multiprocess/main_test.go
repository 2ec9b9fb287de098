package multiprocess_test

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
		t.Skip("LIVEFOLD_PG_URL is not set; run the tests with ../../../.ci/postgres.sh go test ./...")
	}
	return url
}

// newTable returns the name of a table no other test uses, dropped when t
// ends.
func newTable(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails
	name := "lf_mp_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		pool, err := pgxpool.New(context.Background(), pgURL(t))
		if err != nil {
			t.Errorf("drop table %s: %v", name, err)
			return
		}
		defer pool.Close()
		if _, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Errorf("drop table %s: %v", name, err)
		}
	})
	return name
}
