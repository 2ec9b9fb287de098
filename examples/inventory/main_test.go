// The test is in package main, not main_test, because a command's package
// cannot be imported: it calls run and reads the file back with the same
// projection types.
package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Ensure that the scenario leaves in the file exactly the snapshots that the
// two days of movements, the rebuild and the restart should produce.
func TestRun_FinalSnapshots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "inventory.db")
	var out bytes.Buffer
	require.NoError(t, run(ctx, path, &out))
	t.Logf("output:\n%s", out.String())

	store, err := boltstore.Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()
	stock, err := projection.New(store, nil, warehouseStock{})
	require.NoError(t, err)
	sku, err := projection.New(store, nil, skuStock{})
	require.NoError(t, err)
	dash, err := projection.New(store, nil, dashboard{})
	require.NoError(t, err)

	wantStock := map[string]projection.Snapshot[Stock]{
		"berlin": {Version: 4, State: Stock{Units: map[string]int{"apple": 25, "pear": 15}, Total: 40}},
		// 3 events folded again by the rebuild, then one more after the restart.
		"lyon": {Version: 4, State: Stock{Units: map[string]int{"apple": 26, "pear": 8}, Total: 34}},
		"oslo": {Version: 2, State: Stock{Units: map[string]int{"plum": 7}, Total: 7}},
	}
	for w, want := range wantStock {
		got, err := stock.ReadRequired(ctx, w)
		require.NoError(t, err, w)
		require.Equal(t, want.Version, got.Version, "stock %s version", w)
		require.Equal(t, want.State, got.State, "stock %s state", w)
	}

	wantSKU := map[string]projection.Snapshot[Stock]{
		"apple": {Version: 5, State: Stock{Units: map[string]int{"berlin": 25, "lyon": 26}, Total: 51}},
		"pear":  {Version: 3, State: Stock{Units: map[string]int{"berlin": 15, "lyon": 8}, Total: 23}},
		"plum":  {Version: 2, State: Stock{Units: map[string]int{"oslo": 7}, Total: 7}},
	}
	for k, want := range wantSKU {
		got, err := sku.ReadRequired(ctx, k)
		require.NoError(t, err, k)
		require.Equal(t, want.Version, got.Version, "sku %s version", k)
		require.Equal(t, want.State, got.State, "sku %s state", k)
	}

	got, err := dash.ReadRequired(ctx, dashboardKey)
	require.NoError(t, err)
	require.Equal(t, uint64(10), got.Version)
	require.Equal(t, Totals{Units: 81, Movements: 10, ByWarehouse: map[string]int{"berlin": 40, "lyon": 34, "oslo": 7}}, got.State)

	// The restart resumed from the persisted versions and the subscriber
	// saw every movement of both days live.
	require.Contains(t, out.String(), "reopened at    stock berlin v3 lyon v3 oslo v1, sku apple v4 pear v2 plum v1, dashboard v7")
	require.Contains(t, out.String(), "live dashboard v7  resync")
	require.Contains(t, out.String(), "live dashboard v10 lyon   apple  +20  ->  81 units in all")
	require.Contains(t, out.String(), "rebuilt lyon from 3 events: version 3")
}

// Ensure that run reports a cancelled context instead of hanging or
// printing a scenario it did not play.
func TestRun_CancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := run(ctx, filepath.Join(t.TempDir(), "inventory.db"), &out)
	require.ErrorIs(t, err, context.Canceled)
	require.NotContains(t, out.String(), "finished at")
}

// Ensure that run fails cleanly when the directory cannot hold the store.
func TestRun_MissingDirectory(t *testing.T) {
	err := run(context.Background(), filepath.Join(t.TempDir(), "missing", "inventory.db"), &bytes.Buffer{})
	require.Error(t, err)
}

// Ensure that a second run on the file a first one left carries on from its
// versions, skipping the rebuild that this run's log cannot make, so that
// the example may be run again on a kept file.
func TestRun_SecondRunOnKeptFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "inventory.db")
	require.NoError(t, run(ctx, path, &bytes.Buffer{}))
	var out bytes.Buffer
	require.NoError(t, run(ctx, path, &out))
	t.Logf("output:\n%s", out.String())
	require.Contains(t, out.String(), "not rebuilding lyon")
	require.Contains(t, out.String(), "finished at    stock berlin v8 lyon v8 oslo v4, sku apple v10 pear v6 plum v4, dashboard v20")
}
