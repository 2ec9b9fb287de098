// The tests are in package main, not main_test, because a command's package
// cannot be imported. The dashboard's own tests are stockdash's.
package main

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/examples/dashboard/stockdash/stockdashtest"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Ensure that serve, on its context's end, ends the open event streams,
// returns promptly without error and releases the store's file.
func TestServe_ContextEnd_EndsStreamsAndClosesStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "dashboard.db")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var log strings.Builder
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, db, &log, false) }()

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := stockdashtest.OpenStream(t, sctx, "http://"+ln.Addr().String()+"/stock/berlin/events")
	ev, err := st.Next()
	require.NoError(t, err)
	require.Equal(t, "deleted", ev.Frame.Event)

	stop()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(4 * time.Second):
		t.Fatal("serve did not return within 4s of its context ending")
	}
	require.NoError(t, st.Drain(), "the stream should end cleanly")
	require.Equal(t, "dashboard: serving http://"+ln.Addr().String()+"/ with store "+db+"\ndashboard: shutting down\n", log.String())

	// The file lock is released: the store opens again at once.
	store, err := boltstore.Open(db, boltstore.WithOpenTimeout(100*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, store.Close())
}
