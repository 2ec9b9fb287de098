package prometheus_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/livefold/livefold/boltstore"
	livefoldprom "github.com/livefold/livefold/metrics/prometheus"
	"github.com/livefold/livefold/projection"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Visit is an example event: someone opened Page.
type Visit struct{ Page string }

// visits counts the visits of each page.
type visits struct{}

func (visits) Name() string                { return "site.visits" }
func (visits) Key(v Visit) string          { return v.Page }
func (visits) Apply(n *int64, _ Visit) int { *n++; return 1 }

func Example() {
	dir, err := os.MkdirTemp("", "livefold-prometheus-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "site.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rt, err := projection.New(store, nil, visits{})
	if err != nil {
		log.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(livefoldprom.NewRuntimeCollector(rt), livefoldprom.NewStoreCollector("site", store))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	for _, page := range []string{"/", "/about", "/"} {
		if _, err := rt.Apply(context.Background(), Visit{page}); err != nil {
			log.Fatal(err)
		}
	}
	srv := httptest.NewServer(mux) // as Prometheus scrapes it
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "livefold_projection_applies_total") ||
			strings.HasPrefix(sc.Text(), "livefold_store_writes_total") {
			fmt.Println(sc.Text())
		}
	}
	// Output:
	// livefold_projection_applies_total{projection="site.visits"} 3
	// livefold_store_writes_total{store="site"} 3
}
