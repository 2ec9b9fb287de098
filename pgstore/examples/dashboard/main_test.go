// The tests are in package main, not main_test, because a command's package
// cannot be imported.
package main

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

// childEnv makes the test binary run the command instead of the tests, with
// the command's arguments: the tests start each instance of the dashboard
// as a process of its own this way.
const childEnv = "LIVEFOLD_DASHBOARD_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main() // exits non-zero itself on an error
		os.Exit(0)
	}
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
// ends (after the instances that t stops at its end, whose cleanups run
// first).
func newTable(t testing.TB, url string) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails
	name := "lf_dash_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		pool, err := pgxpool.New(context.Background(), url)
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
