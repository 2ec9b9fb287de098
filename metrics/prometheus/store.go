package prometheus

import (
	"math"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is what NewStoreCollector reads: a *boltstore.Store is one.
type Store interface {
	Stats() boltstore.Stats
}

// storeMetric is a counter or gauge of a store and how to read it.
type storeMetric struct {
	name, help string
	kind       prometheus.ValueType
	value      func(boltstore.Stats) float64
}

// storeMetrics are the counters and gauges listed in the package
// documentation.
var storeMetrics = []storeMetric{
	{"requests_total", "Requests whose outcome was decided.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.Requests) }},
	{"writes_total", "Writes committed.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.Writes) }},
	{"batches_total", "Batches taken off the queue.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.Batches) }},
	{"commits_total", "Commits made durable.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.Commits) }},
	{"failed_commits_total", "Commits that failed.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.FailedCommits) }},
	{"conflicts_total", "Requests rejected with a conflict.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.Conflicts) }},
	{"corrupt_requests_total", "Requests rejected because a record they replace is damaged.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.Corrupt) }},
	{"callback_panics_total", "Done callbacks that panicked.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.CallbackPanics) }},
	{"queue_length", "Requests waiting for the committer now.", prometheus.GaugeValue,
		func(s boltstore.Stats) float64 { return float64(s.QueueLen) }},
	{"batch_requests_max", "Most requests in one batch.", prometheus.GaugeValue,
		func(s boltstore.Stats) float64 { return float64(s.MaxBatchRequests) }},
	{"batch_writes_max", "Most writes in one batch.", prometheus.GaugeValue,
		func(s boltstore.Stats) float64 { return float64(s.MaxBatchWrites) }},
	{"commit_seconds_max", "Longest commit, from its start to its durable end.", prometheus.GaugeValue,
		func(s boltstore.Stats) float64 { return s.MaxCommitLatency.Seconds() }},
	{"checkpoints_total", "Times the write-ahead log was folded into the file.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.Checkpoints) }},
	{"failed_checkpoints_total", "Checkpoints that failed.", prometheus.CounterValue,
		func(s boltstore.Stats) float64 { return float64(s.FailedCheckpoints) }},
	{"checkpoint_seconds_max", "Longest successful checkpoint.", prometheus.GaugeValue,
		func(s boltstore.Stats) float64 { return s.MaxCheckpoint.Seconds() }},
	{"log_bytes", "Bytes in the write-ahead log now.", prometheus.GaugeValue,
		func(s boltstore.Stats) float64 { return float64(s.LogBytes) }},
}

// storeSummary is a summary of a store: Stats keeps a count and a mean, and
// the sum is their product. The means are exact quotients of the store's
// sums (truncated to the nanosecond for durations), so the product gives
// the sum back to within a nanosecond per event.
type storeSummary struct {
	name, help string
	whole      bool // the sum counts things: round it to an integer
	value      func(boltstore.Stats) (count uint64, mean float64)
}

var storeSummaries = []storeSummary{
	{"batch_requests", "Requests per batch.", true,
		func(s boltstore.Stats) (uint64, float64) { return s.Batches, s.MeanBatchRequests }},
	{"batch_writes", "Writes per batch.", true,
		func(s boltstore.Stats) (uint64, float64) { return s.Batches, s.MeanBatchWrites }},
	{"commit_seconds", "Time from a commit's start to its durable end.", false,
		func(s boltstore.Stats) (uint64, float64) { return s.Commits, seconds(s.MeanCommitLatency) }},
	{"checkpoint_seconds", "Time a successful checkpoint took.", false,
		func(s boltstore.Stats) (uint64, float64) { return s.Checkpoints, seconds(s.MeanCheckpoint) }},
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// storeCollector collects one store's Stats; the descriptions are in the
// order of storeMetrics and storeSummaries and never change after
// NewStoreCollector.
type storeCollector struct {
	st        Store
	descs     []*prometheus.Desc
	summaries []*prometheus.Desc
}

// NewStoreCollector returns a collector of st's Stats, each metric labelled
// store=name. It reads Stats once per scrape and is safe for concurrent
// scrapes; st may be closed, its last counts are then reported.
// Registering the collectors of two stores with the same name in one
// registry fails, as their metrics would be the same.
func NewStoreCollector(name string, st Store) prometheus.Collector {
	labels := prometheus.Labels{"store": name}
	c := &storeCollector{st: st}
	for _, m := range storeMetrics {
		c.descs = append(c.descs, prometheus.NewDesc(
			prometheus.BuildFQName("livefold", "store", m.name), m.help, nil, labels))
	}
	for _, m := range storeSummaries {
		c.summaries = append(c.summaries, prometheus.NewDesc(
			prometheus.BuildFQName("livefold", "store", m.name), m.help, nil, labels))
	}
	return c
}

// Describe sends the descriptions of every metric.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
	for _, d := range c.summaries {
		ch <- d
	}
}

// Collect reads the store's Stats and sends every metric.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.st.Stats()
	for i, m := range storeMetrics {
		ch <- prometheus.MustNewConstMetric(c.descs[i], m.kind, m.value(s))
	}
	for i, m := range storeSummaries {
		count, mean := m.value(s)
		sum := mean * float64(count)
		if m.whole {
			sum = math.Round(sum)
		}
		ch <- prometheus.MustNewConstSummary(c.summaries[i], count, sum, nil)
	}
}
