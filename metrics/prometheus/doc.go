// Package prometheus exports livefold's counters to Prometheus: a collector
// for a projection runtime's Stats and one for a boltstore Store's Stats,
// read when Prometheus scrapes, so nothing is counted twice and nothing runs
// between scrapes.
//
// It is its own module, github.com/livefold/livefold/metrics/prometheus, so
// that the library does not depend on the Prometheus client. Its name is
// that of the client's package, so import it under another:
//
//	import livefoldprom "github.com/livefold/livefold/metrics/prometheus"
//
//	reg.MustRegister(livefoldprom.NewRuntimeCollector(rt), livefoldprom.NewStoreCollector("main", store))
//
// # Metrics of a runtime
//
// Each carries the label projection, the runtime's Name, so the collectors
// of several runtimes register side by side.
//
//	livefold_projection_applies_total        counter  events folded and committed (Apply and ApplyBatch)
//	livefold_projection_batches_total        counter  ApplyBatch calls committed
//	livefold_projection_rebuilds_total       counter  Rebuild calls committed, deletions included
//	livefold_projection_duplicates_total     counter  Positioned events skipped as already folded
//	livefold_projection_failures_total       counter  Apply, ApplyBatch and Rebuild calls that returned an error
//	livefold_projection_retries_total        counter  folds done again after a commit met an unexpected version
//	livefold_projection_rebuild_alls_total   counter  RebuildAll calls that switched generations
//	livefold_projection_rebuild_all_running  gauge    1 while a RebuildAll runs, else 0
//	livefold_projection_rebuild_all_events   gauge    events folded by the running or the last RebuildAll
//	livefold_projection_rebuild_all_keys     gauge    keys seen by the running or the last RebuildAll
//	livefold_projection_generation           gauge    the generation of snapshots read and written
//	livefold_projection_cache_hits_total     counter  lookups served from the cache
//	livefold_projection_cache_misses_total   counter  lookups that loaded the snapshot from the store
//	livefold_projection_cached_keys          gauge    keys cached now
//	livefold_projection_locked_keys          gauge    keys whose lock is held or waited on now
//	livefold_projection_published_total      counter  updates published on the bus
//	livefold_projection_subscriptions        gauge    subscriptions live now
//	livefold_projection_dropped_total        counter  updates that overflowed a subscription's buffer
//	livefold_projection_resyncs_total        counter  resyncs sent to subscribers that fell behind
//
// # Metrics of a store
//
// Each carries the label store, the name given to NewStoreCollector.
//
//	livefold_store_requests_total            counter  requests whose outcome was decided
//	livefold_store_writes_total              counter  writes committed
//	livefold_store_batches_total             counter  batches taken off the queue
//	livefold_store_commits_total             counter  commits made durable
//	livefold_store_failed_commits_total      counter  commits that failed
//	livefold_store_conflicts_total           counter  requests rejected with a conflict
//	livefold_store_corrupt_requests_total    counter  requests rejected because a record they replace is damaged
//	livefold_store_callback_panics_total     counter  done callbacks that panicked
//	livefold_store_queue_length              gauge    requests waiting for the committer now
//	livefold_store_batch_requests            summary  requests per batch (count: batches)
//	livefold_store_batch_requests_max        gauge    most requests in one batch
//	livefold_store_batch_writes              summary  writes per batch (count: batches)
//	livefold_store_batch_writes_max          gauge    most writes in one batch
//	livefold_store_commit_seconds            summary  time from a commit's start to its durable end (count: commits)
//	livefold_store_commit_seconds_max        gauge    longest commit
//	livefold_store_checkpoints_total         counter  times the write-ahead log was folded into the file
//	livefold_store_failed_checkpoints_total  counter  checkpoints that failed
//	livefold_store_checkpoint_seconds        summary  time a successful checkpoint took (count: checkpoints)
//	livefold_store_checkpoint_seconds_max    gauge    longest checkpoint
//	livefold_store_log_bytes                 gauge    bytes in the write-ahead log now
//
// Every count runs from the runtime's New or the store's Open. The summaries
// have no quantiles: a rate of their _sum over their _count gives the mean
// over any window. The maxima are since Open.
//
// OpenTelemetry users can read these through the OpenTelemetry Prometheus
// bridge, so this module has no OpenTelemetry exporter of its own.
package prometheus
