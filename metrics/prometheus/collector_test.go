package prometheus_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/livefold/livefold/boltstore"
	livefoldprom "github.com/livefold/livefold/metrics/prometheus"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/projectiontest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type add struct {
	Key string
	N   int
}

type sum struct{ name string }

func (s sum) Name() string          { return s.name }
func (sum) Key(e add) string        { return e.Key }
func (sum) Apply(s *int, e add) int { *s += e.N; return e.N }

func newRuntime(t *testing.T, st *boltstore.Store, name string) *projection.Runtime[add, int, int] {
	t.Helper()
	rt, err := projection.New(st, projectiontest.NewBus(t), sum{name})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// scrape serves reg over HTTP as Prometheus scrapes it and returns the
// sample lines, by "name{labels}".
func scrape(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d, %v\n%s", resp.StatusCode, err, body)
	}
	samples := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// Ensure that a scrape reports the runtime's and the store's counts under
// the documented names and labels.
func TestCollectors_Scrape_ReportStats(t *testing.T) {
	st := projectiontest.OpenStore(t)
	rt := newRuntime(t, st, "test.sum")
	ctx := context.Background()
	sub, err := rt.Subscribe(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for range 2 {
		if _, err := rt.Apply(ctx, add{"a", 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.ApplyBatch(ctx, []add{{"b", 1}, {"c", 2}}); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewPedanticRegistry() // checks that Collect matches Describe
	reg.MustRegister(livefoldprom.NewRuntimeCollector(rt), livefoldprom.NewStoreCollector("main", st))
	got := scrape(t, reg)
	rs, ss := rt.Stats(), st.Stats()
	want := map[string]float64{
		`livefold_projection_applies_total{projection="test.sum"}`:   4,
		`livefold_projection_batches_total{projection="test.sum"}`:   1,
		`livefold_projection_failures_total{projection="test.sum"}`:  0,
		`livefold_projection_subscriptions{projection="test.sum"}`:   1,
		`livefold_projection_cached_keys{projection="test.sum"}`:     float64(rs.CacheLen),
		`livefold_projection_published_total{projection="test.sum"}`: float64(rs.Published),
		`livefold_store_writes_total{store="main"}`:                  4,
		`livefold_store_commits_total{store="main"}`:                 float64(ss.Commits),
		`livefold_store_batches_total{store="main"}`:                 float64(ss.Batches),
		`livefold_store_commit_seconds_count{store="main"}`:          float64(ss.Commits),
		`livefold_store_batch_writes_count{store="main"}`:            float64(ss.Batches),
		`livefold_store_batch_writes_sum{store="main"}`:              4,
		`livefold_store_batch_requests_sum{store="main"}`:            float64(ss.Requests),
		`livefold_store_batch_writes_max{store="main"}`:              float64(ss.MaxBatchWrites),
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (reported: %t); want %v", name, g, ok, v)
		}
	}
	if ss.Commits == 0 || got[`livefold_store_commit_seconds_sum{store="main"}`] <= 0 {
		t.Errorf("commit_seconds_sum = %v after %d commits; want it above 0",
			got[`livefold_store_commit_seconds_sum{store="main"}`], ss.Commits)
	}
	// Every documented name is reported.
	for _, name := range documentedNames(t) {
		found := false
		for sample := range got {
			found = found || strings.HasPrefix(sample, name+"{") || strings.HasPrefix(sample, name+"_count{")
		}
		if !found {
			t.Errorf("%s is documented but not reported", name)
		}
	}
}

// documentedNames returns the metric names the package documentation lists.
func documentedNames(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?m)^//\t(livefold_[a-z_]+)\s`).FindAllStringSubmatch(string(doc), -1)
	if len(names) < 30 {
		t.Fatalf("doc.go lists %d metrics", len(names))
	}
	out := make([]string, len(names))
	for i, m := range names {
		out[i] = m[1]
	}
	return out
}

// Ensure that the metrics follow Prometheus's naming conventions.
func TestCollectors_Lint(t *testing.T) {
	st := projectiontest.OpenStore(t)
	for _, c := range []prometheus.Collector{
		livefoldprom.NewRuntimeCollector(newRuntime(t, st, "test.sum")),
		livefoldprom.NewStoreCollector("main", st),
	} {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// Ensure that the collectors of two runtimes register side by side, told
// apart by their projection label, and that a second collector of the same
// projection is refused rather than reported twice.
func TestNewRuntimeCollector_Register_OnePerProjection(t *testing.T) {
	st := projectiontest.OpenStore(t)
	a, b := newRuntime(t, st, "test.a"), newRuntime(t, st, "test.b")
	if _, err := a.Apply(context.Background(), add{"k", 1}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(livefoldprom.NewRuntimeCollector(a), livefoldprom.NewRuntimeCollector(b))
	if err := reg.Register(livefoldprom.NewRuntimeCollector(a)); err == nil {
		t.Error("a second collector of test.a registered")
	}
	got := scrape(t, reg)
	if got[`livefold_projection_applies_total{projection="test.a"}`] != 1 ||
		got[`livefold_projection_applies_total{projection="test.b"}`] != 0 {
		t.Errorf("applies: test.a %v, test.b %v; want 1 and 0",
			got[`livefold_projection_applies_total{projection="test.a"}`], got[`livefold_projection_applies_total{projection="test.b"}`])
	}
}
