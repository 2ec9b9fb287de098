package stockdash_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livefold/livefold/examples/dashboard/stockdash"
	"github.com/livefold/livefold/examples/dashboard/stockdash/stockdashtest"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/projectiontest"
	"github.com/stretchr/testify/require"
)

// Ensure that a posted movement is durable when the POST returns and reaches
// an open event stream as a delta after the initial state.
func TestServer_PostMove_ReachesSnapshotAndStream(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	st := stockdashtest.OpenStream(t, ctx, ts.url+"/stock/berlin/events")
	first, err := st.Next()
	require.NoError(t, err)
	require.Equal(t, "deleted", first.Frame.Event)
	require.Equal(t, "deleted", first.Name, "the page listens by event name")
	require.Equal(t, uint64(0), first.Frame.Version)

	code, body := ts.post(t, "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"5"}})
	require.Equal(t, http.StatusNoContent, code, body)
	snap, err := ts.Runtime().ReadRequired(ctx, "berlin")
	require.NoError(t, err)
	require.Equal(t, uint64(1), snap.Version)
	require.Equal(t, stockdash.Stock{Units: map[string]int{"apple": 5}, Total: 5}, snap.State)

	ev, err := st.Next()
	require.NoError(t, err)
	require.Equal(t, "stock.moved", ev.Frame.Event)
	require.Equal(t, "stock.moved", ev.Name)
	require.Equal(t, uint64(1), ev.Frame.Version)
	var c stockdash.Change
	require.NoError(t, json.Unmarshal(ev.Frame.Data, &c))
	require.Equal(t, stockdash.Change{SKU: "apple", Qty: 5, Units: 5, Total: 5}, c)

	resp, err := http.Get(ts.url + "/stock/berlin")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got stockdash.Snapshot
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Equal(t, uint64(1), got.Version)
	require.Equal(t, snap.State, got.State)
}

// Ensure that a stream opened after some movements starts with the full
// state at its version, so a page that loads late is complete.
func TestServer_Stream_StartsWithCurrentState(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	for _, q := range []string{"3", "4"} {
		code, body := ts.post(t, "/stock/lyon/moves", url.Values{"sku": {"pear"}, "qty": {q}})
		require.Equal(t, http.StatusNoContent, code, body)
	}
	ev, err := stockdashtest.OpenStream(t, ctx, ts.url+"/stock/lyon/events").Next()
	require.NoError(t, err)
	require.Equal(t, "resync", ev.Frame.Event)
	require.Equal(t, uint64(2), ev.Frame.Version)
	var s stockdash.Stock
	require.NoError(t, json.Unmarshal(ev.Frame.Data, &s))
	require.Equal(t, stockdash.Stock{Units: map[string]int{"pear": 7}, Total: 7}, s)
}

// Ensure that malformed movements are refused with 400 and change nothing.
func TestServer_PostMove_RejectsBadInput(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		name, path string
		form       url.Values
	}{
		{"empty sku", "/stock/berlin/moves", url.Values{"sku": {""}, "qty": {"1"}}},
		{"long sku", "/stock/berlin/moves", url.Values{"sku": {strings.Repeat("x", stockdash.MaxSKULen+1)}, "qty": {"1"}}},
		{"control character in sku", "/stock/berlin/moves", url.Values{"sku": {"a\nb"}, "qty": {"1"}}},
		{"zero qty", "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"0"}}},
		{"qty not a number", "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"many"}}},
		{"qty too large", "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"1000001"}}},
		{"key not UTF-8", "/stock/ber%FFlin/moves", url.Values{"sku": {"apple"}, "qty": {"1"}}},
		{"oversized body", "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"1"}, "pad": {strings.Repeat("p", stockdash.MaxFormBytes)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := ts.post(t, tc.path, tc.form)
			require.Equal(t, http.StatusBadRequest, code, body)
		})
	}
	_, ok, err := ts.Runtime().Read(testContext(t), "berlin")
	require.NoError(t, err)
	require.False(t, ok, "a refused movement left a snapshot")
}

// Ensure that the snapshot route distinguishes a missing warehouse from an
// invalid key.
func TestServer_Snapshot_MissingAndInvalid(t *testing.T) {
	ts := newTestServer(t)
	for path, want := range map[string]int{
		"/stock/nowhere":     http.StatusNotFound,
		"/stock/no.where":    http.StatusNotFound, // any UTF-8 key is valid
		"/stock/no%FFwhere":  http.StatusBadRequest,
		"/stock/a%FF/events": http.StatusBadRequest,
		"/missing":           http.StatusNotFound,
	} {
		resp, err := http.Get(ts.url + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, path)
	}
}

// Ensure that the page is served as HTML and holds its own script, with no
// external asset.
func TestServer_Page_SelfContained(t *testing.T) {
	ts := newTestServer(t)
	resp, err := http.Get(ts.url + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "new EventSource(")
	require.NotContains(t, string(body), "src=")
	require.NotContains(t, string(body), "href=")
}

// Ensure that Serve, on its context's end, ends the open event streams,
// returns promptly without error and closes the Server, whose runtime then
// refuses applies.
func TestServe_ContextEnd_EndsStreamsAndClosesServer(t *testing.T) {
	s, err := stockdash.New(projectiontest.OpenStore(t))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var log strings.Builder
	served := make(chan error, 1)
	go func() { served <- stockdash.Serve(ctx, ln, s, &log) }()

	st := stockdashtest.OpenStream(t, testContext(t), "http://"+ln.Addr().String()+"/stock/berlin/events")
	ev, err := st.Next()
	require.NoError(t, err)
	require.Equal(t, "deleted", ev.Frame.Event)

	stop()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(4 * time.Second):
		t.Fatal("Serve did not return within 4s of its context ending")
	}
	require.NoError(t, st.Drain(), "the stream should end cleanly")
	require.Equal(t, "dashboard: shutting down\n", log.String())
	_, err = s.Runtime().Apply(testContext(t), stockdash.StockMoved{Warehouse: "berlin", SKU: "apple", Qty: 1})
	require.ErrorIs(t, err, projection.ErrClosed)
}
