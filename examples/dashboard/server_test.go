// The tests are in package main, not main_test, because a command's package
// cannot be imported.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
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

// testServer is a server on a temporary store behind httptest.
type testServer struct {
	*server
	url string
}

// newTestServer starts a server whose cleanup ends its event streams before
// the HTTP server waits for its requests.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newWrappedTestServer(t, func(h http.Handler) http.Handler { return h })
}

// newWrappedTestServer is newTestServer with wrap between the HTTP server
// and the dashboard, and options after the test's defaults.
func newWrappedTestServer(t *testing.T, wrap func(http.Handler) http.Handler, opts ...option) *testServer {
	t.Helper()
	opts = append([]option{withHeartbeat(time.Second), withStoreOptions(boltstore.WithNoSync())}, opts...)
	s, err := newServer(filepath.Join(t.TempDir(), "dashboard.db"), opts...)
	require.NoError(t, err)
	hs := httptest.NewServer(wrap(s))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return &testServer{server: s, url: hs.URL}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (ts *testServer) post(t *testing.T, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(ts.url+path, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// stream reads the frames of one Server-Sent Events response.
type stream struct {
	t    *testing.T
	body io.ReadCloser
	sc   *bufio.Scanner
	name string // the "event:" field of the frame next returned last
}

func openStream(t *testing.T, ctx context.Context, u string) *stream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return &stream{t: t, body: resp.Body, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next frame, skipping heartbeats, and sets s.name to its
// event's name.
func (s *stream) next() projection.SSEFrame {
	s.t.Helper()
	s.name = ""
	for s.sc.Scan() {
		if name, ok := strings.CutPrefix(s.sc.Text(), "event: "); ok {
			s.name = name
		}
		if data, ok := strings.CutPrefix(s.sc.Text(), "data: "); ok {
			var f projection.SSEFrame
			require.NoError(s.t, json.Unmarshal([]byte(data), &f))
			return f
		}
	}
	s.t.Fatalf("stream ended before a frame: %v", s.sc.Err())
	return projection.SSEFrame{}
}

// Ensure that a posted movement is durable when the POST returns and reaches
// an open event stream as a delta after the initial state.
func TestServer_PostMove_ReachesSnapshotAndStream(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	st := openStream(t, ctx, ts.url+"/stock/berlin/events")
	first := st.next()
	require.Equal(t, "deleted", first.Event)
	require.Equal(t, "deleted", st.name, "the page listens by event name")
	require.Equal(t, uint64(0), first.Version)

	code, body := ts.post(t, "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"5"}})
	require.Equal(t, http.StatusNoContent, code, body)
	snap, err := ts.stock.ReadRequired(ctx, "berlin")
	require.NoError(t, err)
	require.Equal(t, uint64(1), snap.Version)
	require.Equal(t, Stock{Units: map[string]int{"apple": 5}, Total: 5}, snap.State)

	f := st.next()
	require.Equal(t, "stock.moved", f.Event)
	require.Equal(t, "stock.moved", st.name)
	require.Equal(t, uint64(1), f.Version)
	var c Change
	require.NoError(t, json.Unmarshal(f.Data, &c))
	require.Equal(t, Change{SKU: "apple", Qty: 5, Units: 5, Total: 5}, c)

	resp, err := http.Get(ts.url + "/stock/berlin")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got snapshotJSON
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
	f := openStream(t, ctx, ts.url+"/stock/lyon/events").next()
	require.Equal(t, "resync", f.Event)
	require.Equal(t, uint64(2), f.Version)
	var s Stock
	require.NoError(t, json.Unmarshal(f.Data, &s))
	require.Equal(t, Stock{Units: map[string]int{"pear": 7}, Total: 7}, s)
}

// Ensure that malformed movements are refused with 400 and change nothing.
func TestServer_PostMove_RejectsBadInput(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		name, path string
		form       url.Values
	}{
		{"empty sku", "/stock/berlin/moves", url.Values{"sku": {""}, "qty": {"1"}}},
		{"long sku", "/stock/berlin/moves", url.Values{"sku": {strings.Repeat("x", maxSKULen+1)}, "qty": {"1"}}},
		{"control character in sku", "/stock/berlin/moves", url.Values{"sku": {"a\nb"}, "qty": {"1"}}},
		{"zero qty", "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"0"}}},
		{"qty not a number", "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"many"}}},
		{"qty too large", "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"1000001"}}},
		{"key not UTF-8", "/stock/ber%FFlin/moves", url.Values{"sku": {"apple"}, "qty": {"1"}}},
		{"oversized body", "/stock/berlin/moves", url.Values{"sku": {"apple"}, "qty": {"1"}, "pad": {strings.Repeat("p", maxFormBytes)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := ts.post(t, tc.path, tc.form)
			require.Equal(t, http.StatusBadRequest, code, body)
		})
	}
	_, ok, err := ts.stock.Read(testContext(t), "berlin")
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

// Ensure that serve, on its context's end, ends the open event streams,
// returns promptly without error and releases the store's file.
func TestServe_ContextEnd_EndsStreamsAndClosesStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "dashboard.db")
	s, err := newServer(db)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, s, io.Discard) }()

	st := openStream(t, testContext(t), "http://"+ln.Addr().String()+"/stock/berlin/events")
	require.Equal(t, "deleted", st.next().Event)

	stop()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(4 * time.Second):
		t.Fatal("serve did not return within 4s of its context ending")
	}
	_, err = io.Copy(io.Discard, st.body)
	require.NoError(t, err, "the stream should end cleanly")

	// The file lock is released: the store opens again at once.
	store, err := boltstore.Open(db, boltstore.WithOpenTimeout(100*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, store.Close())
}
