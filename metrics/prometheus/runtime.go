package prometheus

import (
	"github.com/livefold/livefold/projection"
	"github.com/prometheus/client_golang/prometheus"
)

// Runtime is what NewRuntimeCollector reads: every *projection.Runtime is
// one, whatever its type parameters.
type Runtime interface {
	Name() string
	Stats() projection.Stats
}

// runtimeMetric is one metric of a runtime and how to read it from Stats.
type runtimeMetric struct {
	name, help string
	kind       prometheus.ValueType
	value      func(projection.Stats) float64
}

// runtimeMetrics are the metrics listed in the package documentation.
var runtimeMetrics = []runtimeMetric{
	{"applies_total", "Events folded and committed, through Apply and ApplyBatch.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.Applies) }},
	{"batches_total", "ApplyBatch calls committed.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.Batches) }},
	{"rebuilds_total", "Rebuild calls committed, deletions included.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.Rebuilds) }},
	{"duplicates_total", "Positioned events skipped as already folded.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.Duplicates) }},
	{"failures_total", "Apply, ApplyBatch and Rebuild calls that returned an error.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.Failures) }},
	{"retries_total", "Folds done again because their commit met a version the runtime did not expect.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.Retries) }},
	{"rebuild_alls_total", "RebuildAll calls that switched generations.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.RebuildAlls) }},
	{"rebuild_all_running", "1 while a RebuildAll runs, else 0.", prometheus.GaugeValue,
		func(s projection.Stats) float64 {
			if s.RebuildRunning {
				return 1
			}
			return 0
		}},
	{"rebuild_all_events", "Events folded by the RebuildAll running now, or by the last one.", prometheus.GaugeValue,
		func(s projection.Stats) float64 { return float64(s.RebuildEvents) }},
	{"rebuild_all_keys", "Keys seen by the RebuildAll running now, or by the last one.", prometheus.GaugeValue,
		func(s projection.Stats) float64 { return float64(s.RebuildKeys) }},
	{"generation", "The generation of snapshots the runtime reads and writes.", prometheus.GaugeValue,
		func(s projection.Stats) float64 { return float64(s.Generation) }},
	{"cache_hits_total", "Apply, Read and resync lookups served from the cache.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.CacheHits) }},
	{"cache_misses_total", "Lookups that loaded the snapshot from the store.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.CacheMisses) }},
	{"cached_keys", "Keys cached now.", prometheus.GaugeValue,
		func(s projection.Stats) float64 { return float64(s.CacheLen) }},
	{"locked_keys", "Keys whose lock is held or waited on now.", prometheus.GaugeValue,
		func(s projection.Stats) float64 { return float64(s.LockedKeys) }},
	{"published_total", "Updates published on the bus, for keys that had a subscriber.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.Published) }},
	{"subscriptions", "Subscriptions live now.", prometheus.GaugeValue,
		func(s projection.Stats) float64 { return float64(s.Subscriptions) }},
	{"dropped_total", "Updates that overflowed a subscription's buffer.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.Dropped) }},
	{"resyncs_total", "Resync updates sent to subscribers that fell behind.", prometheus.CounterValue,
		func(s projection.Stats) float64 { return float64(s.Resyncs) }},
}

// runtimeCollector collects one runtime's Stats; descs is in the order of
// runtimeMetrics and never changes after NewRuntimeCollector.
type runtimeCollector struct {
	rt    Runtime
	descs []*prometheus.Desc
}

// NewRuntimeCollector returns a collector of rt's Stats, each metric labelled
// projection=rt.Name(). It reads Stats once per scrape and is safe for
// concurrent scrapes; rt may be closed, its last counts are then reported.
// Registering the collectors of two runtimes with the same name in one
// registry fails, as their metrics would be the same.
func NewRuntimeCollector(rt Runtime) prometheus.Collector {
	labels := prometheus.Labels{"projection": rt.Name()}
	c := &runtimeCollector{rt: rt}
	for _, m := range runtimeMetrics {
		c.descs = append(c.descs, prometheus.NewDesc(
			prometheus.BuildFQName("livefold", "projection", m.name), m.help, nil, labels))
	}
	return c
}

// Describe sends the descriptions of every metric.
func (c *runtimeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the runtime's Stats and sends every metric.
func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.rt.Stats()
	for i, m := range runtimeMetrics {
		ch <- prometheus.MustNewConstMetric(c.descs[i], m.kind, m.value(s))
	}
}
