// The tests are in package main, not main_test: a command cannot be
// imported, and run is the public surface they exercise, as a user would
// through the command line.
package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testClock is the time every test snapshot is stamped with.
var testClock = time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)

const testUpdatedAt = "2025-03-04T05:06:07.000000008Z"

// added is the event of the test projections.
type added struct {
	Key  string
	N    int
	Tag  string
	Blob []byte
}

// counter is the state: a struct with a slice, a byte slice, a map with
// integer keys and a float, to exercise the generic decoding of get.
type counter struct {
	Count int
	Tags  []string
	Blob  []byte
	ByN   map[int]string
	Ratio float64
}

// counters folds added events per key.
type counters struct{ name string }

func (c counters) Name() string     { return c.name }
func (counters) Key(e added) string { return e.Key }
func (counters) Apply(s *counter, e added) int {
	s.Count += e.N
	if e.Tag != "" {
		s.Tags = append(s.Tags, e.Tag)
	}
	if e.Blob != nil {
		s.Blob = e.Blob
	}
	if s.ByN == nil {
		s.ByN = map[int]string{}
	}
	s.ByN[e.N] = e.Tag
	s.Ratio = float64(s.Count) / 2
	return s.Count
}

// Names of the test file's projections and its keys.
const (
	projA = "test.counters"
	projB = "test.other"
)

// writeEvents applies events to the projections of the file at path through
// the projection runtime and closes the store.
func writeEvents(t *testing.T, path string, events map[string][]added) {
	t.Helper()
	st, err := boltstore.Open(path, boltstore.WithNoSync())
	if err != nil {
		t.Fatalf("boltstore.Open: %v", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Fatalf("store.Close: %v", err)
		}
	}()
	for name, evs := range events {
		rt, err := projection.New(st, nil, counters{name: name}, projection.WithClock(func() time.Time { return testClock }))
		if err != nil {
			t.Fatalf("projection.New(%s): %v", name, err)
		}
		for _, ev := range evs {
			if _, err := rt.Apply(t.Context(), ev); err != nil {
				t.Fatalf("Apply(%s, %+v): %v", name, ev, err)
			}
		}
	}
}

// newTestFile returns the path of a closed livefold file with two
// projections: projA with keys alpha (3 events), beta (1) and -neg (1), and
// projB with key gamma (2).
func newTestFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	writeEvents(t, path, map[string][]added{
		projA: {
			{Key: "alpha", N: 1, Tag: "a1", Blob: []byte{0xde, 0xad, 0xbe, 0xef}},
			{Key: "alpha", N: 2, Tag: "a2"},
			{Key: "beta", N: 5, Tag: "b1"},
			{Key: "alpha", N: 3, Tag: "a3"},
			{Key: "-neg", N: 7},
		},
		projB: {
			{Key: "gamma", N: 1},
			{Key: "gamma", N: 1},
		},
	})
	return path
}

// damageRecord flips the last byte of the record projection/key through a
// raw bbolt handle, so that its checksum no longer matches.
func damageRecord(t *testing.T, path, projection, key string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(projection))
		v := bytes.Clone(b.Get([]byte(key)))
		v[len(v)-1] ^= 0xff
		return b.Put([]byte(key), v)
	})
	if err != nil {
		t.Fatalf("damaging %s/%s: %v", projection, key, err)
	}
}

// result is the outcome of one run.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command line args through run.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	return runCLIContext(t.Context(), args...)
}

func runCLIContext(ctx context.Context, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// wantCode fails the test unless r exited with code; it prints the output.
func wantCode(t *testing.T, r result, code int, args ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("livefold %s: exit %d; want %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
}

// mustRun runs args and fails unless they exit with code.
func mustRun(t *testing.T, code int, args ...string) result {
	t.Helper()
	r := runCLI(t, args...)
	wantCode(t, r, code, args...)
	return r
}

// fileBytes returns the content of path.
func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	return b
}
