package main

import (
	"context"
	"iter"
	"os"
	"time"

	"github.com/livefold/livefold/boltstore"
)

// system is one implementation of the benchmarked read model.
type system interface {
	// apply folds one event durably (as durable as the system is configured
	// to be) and returns once it is committed.
	apply(ctx context.Context, e event) error
	// applyBatch folds events in one transaction.
	applyBatch(ctx context.Context, events []event) error
	// read returns key's committed state and version.
	read(ctx context.Context, key string) (account, uint64, bool, error)
	// rebuild replaces key's snapshot with the fold of events, atomically.
	rebuild(ctx context.Context, key string, events iter.Seq[event]) error
	// rebuildAll replaces every key's snapshot with the fold of events,
	// whose keys interleave, keeping at most memory states in memory and
	// writing batch of them per commit; a key absent from events no longer
	// exists afterwards. Systems without such an operation return an error
	// wrapping errors.ErrUnsupported.
	rebuildAll(ctx context.Context, events iter.Seq[event], memory, batch int) error
	// syncs returns how many durable commits of its log the system has
	// counted since it was opened (for livefold its store's commits, for
	// Pebble its WAL syncs), or 0 if it does not count them.
	syncs() uint64
	// note describes, from the system's own counters, what limited the work
	// done since the previous note (or the open), which took elapsed.
	note(elapsed time.Duration) string
	// close releases the system; its files stay for a reopen.
	close() error
}

// openOptions are the settings a workload may change.
type openOptions struct {
	stateBytes int // about how large an encoded state is
	cacheSize  int // livefold's WithCacheSize; 0 for the default
}

// systemKind opens a system at a path; opening the same path again reopens it.
type systemKind struct {
	name string
	// files lists the files that make up a database at path, for its size.
	files func(path string) []string
	open  func(path string, o openOptions) (system, error)
	// remove, if set, deletes what files does not list (a table on a
	// server).
	remove func(path string) error
	// optional systems run only when -systems names them.
	optional bool
	// rebuildsAll: the system implements rebuildAll.
	rebuildsAll bool
}

// baseline is the system ratios are computed against, unless a row names
// another (the postgres cells compare with pgBaseline).
const baseline = "sqlite-full"

// The peers livefold is also compared with, in the report's table of
// ratios and in the targets.
const (
	pebbleSync       = "pebble-sync"
	pebbleNoSyncWait = "pebble-nosyncwait"
	badgerSync       = "badger-sync"
)

// peers returns the peers in the order the report lists them.
func peers() []string { return []string{pebbleSync, pebbleNoSyncWait, badgerSync} }

func systemKinds() []systemKind {
	sqliteFiles := func(path string) []string { return []string{path, path + "-wal", path + "-shm"} }
	oneFile := func(path string) []string { return []string{path} }
	removeDir := func(path string) error { return os.RemoveAll(path) }
	return []systemKind{
		{name: "sqlite-full", files: sqliteFiles, open: func(path string, o openOptions) (system, error) {
			return openSQLite(path, "FULL", o)
		}},
		{name: "sqlite-normal", files: sqliteFiles, open: func(path string, o openOptions) (system, error) {
			return openSQLite(path, "NORMAL", o)
		}},
		{name: "bolt-naive", files: oneFile, open: openBoltNaive},
		{name: "livefold", files: oneFile, open: openLivefold, rebuildsAll: true},
		// Still durable: only bbolt's freelist is not written per commit,
		// and is rebuilt by scanning the file on open.
		{name: "livefold-nofreelistsync", files: oneFile, optional: true, rebuildsAll: true, open: func(path string, o openOptions) (system, error) {
			return openLivefoldWith(path, o, boltstore.WithNoFreelistSync())
		}},
		// The peers a Go engineer would reach for first; their databases are
		// directories.
		{name: pebbleSync, files: dirFiles, remove: removeDir, open: func(path string, o openOptions) (system, error) {
			return openPebble(path, o, false)
		}},
		{name: pebbleNoSyncWait, files: dirFiles, remove: removeDir, open: func(path string, o openOptions) (system, error) {
			return openPebble(path, o, true)
		}},
		{name: badgerSync, files: dirFiles, remove: removeDir, open: openBadger},
	}
}

// systemNames lists every system -systems accepts: those of systemKinds,
// which every group but postgres runs, and those of the postgres cells.
func systemNames() []string {
	var out []string
	for _, k := range append(systemKinds(), pgKinds("")...) {
		out = append(out, k.name)
	}
	return out
}
