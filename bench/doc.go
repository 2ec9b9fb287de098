// Command bench measures livefold against its peers in one run and prints a
// markdown table with the ratio of every figure to the original runtime's
// algorithm (ferro_projection's) on SQLite (WAL, synchronous=FULL), or on
// PostgreSQL for the postgres cells, the target it is held to, and whether
// it met it.
//
// Run it from this directory, which is its own module so that library users
// never download SQLite or the peer bus:
//
//	cd bench && go run . -short            # smoke run for CI, a few seconds
//	cd bench && go run . > table.md        # the full table
//	cd bench && go run . -only apply,read -systems sqlite-full,livefold
//
// # Systems
//
//   - sqlite-full, sqlite-normal: the original runtime's algorithm on
//     SQLite through mattn/go-sqlite3 in WAL mode with synchronous=FULL and
//     =NORMAL: a per-key mutex from a map that never evicts, then per event
//     BEGIN, SELECT the row, fold, UPSERT, COMMIT, with the state as JSON.
//     One connection, so writers queue in database/sql instead of sleeping
//     in SQLite's busy handler (which measured slower). It has no rebuild of
//     every key: it rebuilds one key at a time (DELETE, INSERT of the fold).
//   - bolt-naive: bbolt with one db.Update per event (or per batch), JSON
//     state, the same per-key mutex.
//   - livefold: projection.Runtime over boltstore with fsync on every commit
//     (no WithNoSync) and a bus without subscribers. Its rows note the
//     store's group commit (commits/s, requests per commit, commit latency,
//     how busy the committer was) and the runtime's cache hit rate.
//   - livefold-nofreelistsync: livefold with boltstore.WithNoFreelistSync,
//     still durable; run only when -systems names it.
//   - pebble-sync, pebble-nosyncwait and badger-sync: the peers a Go
//     engineer would reach for first, written as a competent user would
//     write the read model on them: the same per-key mutex, then per event
//     read the key, fold, write, with the same state type in a msgpack
//     value beside its version (the msgpack module livefold uses);
//     ApplyBatch folds its events in memory and writes each key once in one
//     batch or transaction; rebuild folds one key's events in memory and
//     writes the result once; none rebuilds every key. pebble-sync is
//     github.com/cockroachdb/pebble/v2 with defaults and the newest format,
//     one batch per event committed with pebble.Sync. pebble-nosyncwait is
//     the same with the batch applied by DB.ApplyNoSyncWait and the key's
//     mutex released before Batch.SyncWait, as CockroachDB does: a key's
//     next event is folded while the previous one's WAL sync runs, and still
//     sees its state, which Pebble makes visible before the sync. An event
//     is acknowledged only once synced. badger-sync is
//     github.com/dgraph-io/badger/v4 with SyncWrites, one db.Update per event
//     (no ErrConflict can arise under the per-key mutex, so none is
//     retried). Their databases are directories. Pebble's rows note its WAL
//     syncs (per second, events per sync, mean latency), from its own fsync
//     histogram.
//   - livefold-pubsub and cskr-pubsub (github.com/cskr/pubsub/v2) in the
//     fan-out and idle-subscription workloads.
//   - pg-naive and pgstore, in the postgres cells only, on the database
//     LIVEFOLD_PG_URL names (the cells are skipped, and the report says so,
//     when it is not set): pg-naive is the original runtime's algorithm on
//     PostgreSQL, per event BEGIN, SELECT the row, fold, UPSERT, COMMIT on a
//     pool of 10 connections, with the state in jsonb and the same per-key
//     mutex; pgstore is projection.Runtime over livefold/pgstore on a pool
//     of the same size, with a bus. Each cell has a table of its own,
//     dropped when the cell ends.
//
// To run the postgres cells on a throw-away cluster, from the repository's
// root (LIVEFOLD_PG_DURABLE=1 keeps the server's durable defaults, which
// the CI's test cluster turns off for speed):
//
//	LIVEFOLD_PG_DURABLE=1 .ci/postgres.sh sh -c 'cd bench && go run . -only postgres'
//
// # The sync limit
//
// Before and after each workload group the harness runs a loop of 4 KiB
// overwrites of a file it wrote and synced in full beforehand, in the
// temporary directory, each followed by fdatasync, for a quarter of a timed cell (between 10 ms and 1 s), and
// reports the syncs per second both achieved. Their mean is the group's
// sync limit: the most commits per second a log that syncs once per commit
// can make on that disk then. livefold's rows (and Pebble's notes) count
// the system's own durable commits; a table under the main one gives, for
// every throughput livefold shares with a peer, livefold's ratio to each
// peer, its commits per second and their fraction of the sync limit. (The
// "Disk" line's median of 100 fsyncs of one page, measured once at start,
// is the latency of one sync, not a rate.)
//
// # Rebuilding every key
//
// The rebuildall group replays one history, 10 events per key over
// 1,000,000 keys by default, in rounds that visit every key once in a
// scrambled order, so that a key's events are a key space apart. livefold
// does the job four ways on one file: ApplyBatch of the history into an
// empty store (batches of 1000, one producer), RebuildAll of it beside what
// ApplyBatch stored, RebuildAll of the same history grouped by key, and
// Rebuild of one key at a time on 64 goroutines. sqlite-full, which has no
// rebuild of every key, rebuilds one key at a time over a row per key. Each
// cell reports its throughput and the largest HeapInuse sampled while it
// ran.
//
// # Checks
//
// Every workload checks its result through the system's own read path: each
// key's folded sum equals the sum of the amounts applied to it, its version
// and event count equal the number of events applied, and, where reopening
// is cheap, the same holds after the file was closed and opened again. Fan-out
// subscribers check that they received every message in order. A failed
// check is printed and makes the command exit with status 1, so a fast wrong
// answer cannot pass. A missed target is reported in the table; it changes
// the exit status only with -strict. A row held to several targets lists
// each with its status; a target relative to a peer is not evaluated when
// -systems leaves that peer out.
//
// # Ownership
//
// Every database lives in one directory made with os.MkdirTemp (under -dir)
// and removed before the command exits. Every goroutine a workload starts is
// waited for before the workload returns.
package main
