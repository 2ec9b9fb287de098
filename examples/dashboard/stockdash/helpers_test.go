package stockdash_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/livefold/livefold/examples/dashboard/stockdash"
	"github.com/livefold/livefold/projectiontest"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServer is a Server on a temporary store behind httptest.
type testServer struct {
	*stockdash.Server
	url string
}

// newTestServer starts a Server whose cleanup ends its event streams before
// the HTTP server waits for its requests.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newWrappedTestServer(t, func(h http.Handler) http.Handler { return h })
}

// newWrappedTestServer is newTestServer with wrap between the HTTP server
// and the dashboard, and options after the test's defaults.
func newWrappedTestServer(t *testing.T, wrap func(http.Handler) http.Handler, opts ...stockdash.Option) *testServer {
	t.Helper()
	st := projectiontest.OpenStore(t)
	opts = append([]stockdash.Option{stockdash.WithHeartbeat(time.Second)}, opts...)
	s, err := stockdash.New(st, opts...)
	require.NoError(t, err)
	hs := httptest.NewServer(wrap(s))
	t.Cleanup(hs.Close)
	t.Cleanup(s.Close)
	return &testServer{Server: s, url: hs.URL}
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
