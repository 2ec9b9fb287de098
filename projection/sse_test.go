package projection_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

type sseEvent struct {
	id    string
	name  string // the "event:" field, empty when the event is unnamed
	frame projection.SSEFrame
}

// sseClient reads events from an SSE response body.
type sseClient struct {
	t    *testing.T
	resp *http.Response
	sc   *bufio.Scanner
}

func dialSSE(t *testing.T, ctx context.Context, url string, header http.Header) *sseClient {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return &sseClient{t: t, resp: resp, sc: bufio.NewScanner(resp.Body)}
}

func (c *sseClient) next() sseEvent {
	c.t.Helper()
	var ev sseEvent
	for c.sc.Scan() {
		line := c.sc.Text()
		switch {
		case line == "" && ev.id != "":
			return ev
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			require.NoError(c.t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.frame))
		}
	}
	c.t.Fatalf("stream ended: %v", c.sc.Err())
	return ev
}

type namedCounter struct{ counter }

func (namedCounter) BroadcastEventName() string { return "counter.changed" }

// Ensure that the SSE handler streams one key's updates to a real HTTP
// client: the current state first, then each delta with the version as id
// and the seed's frame shape.
func TestRuntime_SSEHandler_StreamsKey(t *testing.T) {
	e := newEnv(t)
	rt, err := projection.New(e.store, e.bus, namedCounter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = rt.Apply(ctx, counterEvent{Key: "k", Delta: 2})
	require.NoError(t, err)

	mux := http.NewServeMux()
	mux.Handle("GET /counters/{key}/events", rt.SSEHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the client bodies, which close first

	c := dialSSE(t, ctx, srv.URL+"/counters/k/events", nil)
	require.Equal(t, http.StatusOK, c.resp.StatusCode)
	require.Equal(t, "text/event-stream", c.resp.Header.Get("Content-Type"))

	first := c.next()
	lin := lineageOf(t, rt, "k")
	require.Equal(t, projection.Cursor{Lineage: lin, Version: 1}.String(), first.id)
	require.Equal(t, "event", first.frame.Type)
	require.Equal(t, "resync", first.frame.Event)
	require.Equal(t, "projection.test.counter.k", first.frame.Channel)
	require.JSONEq(t, `{"Total":2}`, string(first.frame.Data))

	_, err = rt.Apply(ctx, counterEvent{Key: "k", Delta: 3})
	require.NoError(t, err)
	ev := c.next()
	require.Equal(t, projection.Cursor{Lineage: lin, Version: 2}.String(), ev.id)
	require.Equal(t, uint64(2), ev.frame.Version)
	require.Equal(t, "counter.changed", ev.frame.Event)
	require.JSONEq(t, `{"NewTotal":5}`, string(ev.frame.Data))
}

// Ensure that a reconnect with Last-Event-ID resumes after that cursor, and
// one with an id that is no cursor (a bare version number from an older
// server, or garbage) starts again from the current state instead of failing.
func TestRuntime_SSEHandler_LastEventIDResumes(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	// The client was connected before: the runtime has had a subscriber.
	earlier, err := rt.Subscribe(ctx, "k")
	require.NoError(t, err)
	earlier.Close()
	for range 5 {
		_, err := rt.Apply(ctx, counterEvent{Key: "k", Delta: 1})
		require.NoError(t, err)
	}
	srv := httptest.NewServer(rt.SSEHandler())
	t.Cleanup(srv.Close) // after the client bodies, which close first
	lin := lineageOf(t, rt, "k")
	at := func(v uint64) string { return projection.Cursor{Lineage: lin, Version: v}.String() }
	c := dialSSE(t, ctx, srv.URL+"/?key=k", http.Header{"Last-Event-Id": {at(3)}})
	for _, want := range []uint64{4, 5} {
		ev := c.next()
		require.Equal(t, at(want), ev.id)
		require.Equal(t, "delta", ev.frame.Event)
	}
	for _, id := range []string{"3", "garbage", at(3) + "x"} {
		c := dialSSE(t, ctx, srv.URL+"/?key=k", http.Header{"Last-Event-Id": {id}})
		require.Equal(t, http.StatusOK, c.resp.StatusCode, "Last-Event-ID %q", id)
		ev := c.next()
		require.Equal(t, "resync", ev.frame.Event, "Last-Event-ID %q", id)
		require.Equal(t, at(5), ev.id)
	}
}

// Ensure that a stream of every key starts with the existing keys' states
// and then carries each key's updates on its channel.
func TestRuntime_SSEHandler_AllKeys(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	srv := httptest.NewServer(rt.SSEHandler())
	t.Cleanup(srv.Close) // after the client bodies, which close first
	_, err := rt.Apply(ctx, counterEvent{Key: "z", Delta: 4})
	require.NoError(t, err)
	c := dialSSE(t, ctx, srv.URL, nil)
	first := c.next()
	require.Equal(t, "resync", first.frame.Event, "a stream of every key starts with their states")
	require.Equal(t, "projection.test.counter.z", first.frame.Channel)
	require.JSONEq(t, `{"Total":4}`, string(first.frame.Data))
	for _, k := range []string{"a", "b"} {
		_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
		require.NoError(t, err)
		ev := c.next()
		require.Equal(t, "projection.test.counter."+k, ev.frame.Channel)
	}
}

// Ensure that the handler returns once the client goes away.
func TestRuntime_SSEHandler_EndsWhenClientLeaves(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	returned := make(chan struct{})
	h := rt.SSEHandler(projection.WithSSEHeartbeat(10 * time.Millisecond))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	c := dialSSE(t, ctx, srv.URL+"/?key=k", nil)
	require.Equal(t, "deleted", c.next().frame.Event)
	cancel()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("handler still running after the client left")
	}
}

// Ensure that bad requests get clear status codes.
func TestRuntime_SSEHandler_BadRequests(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	srv := httptest.NewServer(rt.SSEHandler())
	t.Cleanup(srv.Close) // after the client bodies, which close first
	for _, q := range []string{"/?key=a%FFb", "/?key=k&since=x", "/?key=k&since=5"} {
		resp, err := http.Get(srv.URL + q)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}
	noBus, err := projection.New(e.store, nil, counter{})
	require.NoError(t, err)
	srv2 := httptest.NewServer(noBus.SSEHandler())
	t.Cleanup(srv2.Close) // after the client bodies, which close first
	resp, err := http.Get(srv2.URL + "/?key=k")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

// Ensure that the default stream names no event, so that a browser's
// onmessage receives every frame, and that WithSSENamedEvents names each one
// after its frame's kind, so that addEventListener(kind) receives it.
func TestRuntime_SSEHandler_NamedEvents(t *testing.T) {
	e := newEnv(t)
	rt, err := projection.New(e.store, e.bus, namedCounter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = rt.Apply(ctx, counterEvent{Key: "k", Delta: 2})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /plain", rt.SSEHandler())
	mux.Handle("GET /named", rt.SSEHandler(projection.WithSSENamedEvents()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the client bodies, which close first

	plain := dialSSE(t, ctx, srv.URL+"/plain?key=k", nil)
	named := dialSSE(t, ctx, srv.URL+"/named?key=k", nil)
	for _, want := range []string{"resync", "counter.changed"} {
		if want != "resync" {
			_, err := rt.Apply(ctx, counterEvent{Key: "k", Delta: 1})
			require.NoError(t, err)
		}
		p, n := plain.next(), named.next()
		require.Equal(t, want, p.frame.Event)
		require.Empty(t, p.name, "a default frame must stay a message event")
		require.Equal(t, want, n.frame.Event)
		require.Equal(t, want, n.name, "the event field names the frame's kind")
		require.Equal(t, p.id, n.id)
	}
}

// badlyNamedCounter's broadcast name would end an SSE "event:" line early.
type badlyNamedCounter struct{ counter }

func (badlyNamedCounter) BroadcastEventName() string { return "counter\nchanged" }

// Ensure that a broadcast name holding a line break, which cannot name an
// SSE event, is refused with 500 when events are named, and streams unnamed
// by default.
func TestRuntime_SSEHandler_NamedEventsRefuseLineBreak(t *testing.T) {
	e := newEnv(t)
	rt, err := projection.New(e.store, e.bus, badlyNamedCounter{})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /plain", rt.SSEHandler())
	mux.Handle("GET /named", rt.SSEHandler(projection.WithSSENamedEvents()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the client bodies, which close first

	resp, err := http.Get(srv.URL + "/named?key=k")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	c := dialSSE(t, ctxT(t), srv.URL+"/plain?key=k", nil)
	require.Equal(t, "deleted", c.next().frame.Event)
}

// Ensure that a stream opens with the reconnection delay in milliseconds:
// DefaultSSERetry unless WithSSERetry sets another, and none at all with
// WithSSERetry(0).
func TestRuntime_SSEHandler_Retry(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	mux := http.NewServeMux()
	mux.Handle("GET /default", rt.SSEHandler())
	mux.Handle("GET /fast", rt.SSEHandler(projection.WithSSERetry(250*time.Millisecond)))
	mux.Handle("GET /tiny", rt.SSEHandler(projection.WithSSERetry(time.Microsecond)))
	mux.Handle("GET /none", rt.SSEHandler(projection.WithSSERetry(0)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the client bodies, which close first
	ctx := ctxT(t)
	for path, want := range map[string]string{
		"/default": fmt.Sprintf("retry: %d", projection.DefaultSSERetry.Milliseconds()),
		"/fast":    "retry: 250",
		"/tiny":    "retry: 1",
		"/none":    "id: ", // the first event's
	} {
		c := dialSSE(t, ctx, srv.URL+path+"?key=k", nil)
		require.True(t, c.sc.Scan(), "%s: %v", path, c.sc.Err())
		require.True(t, strings.HasPrefix(c.sc.Text(), want), "%s: first line %q; want %q", path, c.sc.Text(), want)
		if path != "/none" {
			require.Equal(t, "deleted", c.next().frame.Event, path)
		}
	}
}
