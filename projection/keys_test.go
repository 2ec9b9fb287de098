package projection_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// anyKeys are keys a domain uses as they are: addresses, names with spaces,
// dotted versions, wildcards' characters, escapes' characters, other
// scripts, and keys that are prefixes of each other's channel tokens.
var anyKeys = []string{
	"alice@example.com", "10.0.0.1", "New York", "v1.2.3", "report.pdf", "tenant.7", "tenant.7.a",
	"*", ">", "a.*", "a.>", "a/b:c", "100%", "%41", "~", "~x", "日本語", "a\u00a0b", "tab\there",
	"plain-key_9", "A",
}

// Ensure that a key is any valid UTF-8 string: each of anyKeys works
// through Apply, ApplyBatch, Rebuild, Read, Subscribe and SubscribeAll,
// updates carry the original key, and every key has a channel of its own.
func TestRuntime_Keys_AnyUTF8Key(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	ctx := ctxT(t)
	all, err := rt.SubscribeAll(ctx, projection.WithBuffer(4*len(anyKeys)))
	require.NoError(t, err)
	defer all.Close()

	channels := map[string]string{}
	for _, k := range anyKeys {
		ch := rt.Channel(k)
		if other, dup := channels[ch]; dup {
			t.Fatalf("keys %q and %q share channel %q", k, other, ch)
		}
		channels[ch] = k
		tok := projection.ChannelToken(k)
		back, err := projection.KeyOfToken(tok)
		require.NoError(t, err, "key %q", k)
		require.Equal(t, k, back)

		sub, err := rt.Subscribe(ctx, k)
		require.NoError(t, err, "key %q", k)
		v, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
		require.NoError(t, err, "key %q", k)
		require.Equal(t, uint64(1), v)
		u := next(t, sub)
		require.Equal(t, k, u.Key)
		require.Equal(t, uint64(1), u.Version)
		sub.Close()

		snap, err := rt.ReadRequired(ctx, k)
		require.NoError(t, err)
		require.Equal(t, int64(1), snap.State.Total)
		state, err := rt.Rebuild(ctx, k, slices.Values([]counterEvent{{Key: k, Delta: 5}}))
		require.NoError(t, err)
		require.Equal(t, int64(5), state.Total)
	}
	batch := make([]counterEvent, 0, len(anyKeys))
	for _, k := range anyKeys {
		batch = append(batch, counterEvent{Key: k, Delta: 10})
	}
	require.NoError(t, rt.ApplyBatch(ctx, batch))

	seen := map[string]int64{}
	for len(seen) < len(anyKeys) || !allAt(seen, 15) {
		u := next(t, all)
		require.Contains(t, anyKeys, u.Key)
		seen[u.Key] = u.State.Total
	}
}

func allAt(m map[string]int64, total int64) bool {
	for _, v := range m {
		if v != total {
			return false
		}
	}
	return true
}

// Ensure that keys whose channel tokens share a prefix, or that look like
// patterns, never receive each other's updates.
func TestRuntime_Keys_NoLeakBetweenKeys(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	sub, err := rt.Subscribe(ctx, "tenant.7")
	require.NoError(t, err)
	defer sub.Close()
	star, err := rt.Subscribe(ctx, "*")
	require.NoError(t, err)
	defer star.Close()
	for _, k := range []string{"tenant.7.a", "tenant", "tenant.7>", "tenant.*", "a", ">", "tenant.7"} {
		_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 1})
		require.NoError(t, err)
	}
	_, err = rt.Apply(ctx, counterEvent{Key: "*", Delta: 1})
	require.NoError(t, err)
	u := next(t, sub)
	require.Equal(t, "tenant.7", u.Key)
	u = next(t, star)
	require.Equal(t, "*", u.Key)
	require.Empty(t, sub.C(), "nothing else reached tenant.7")
	require.Empty(t, star.C(), "nothing else reached *")
}

// Ensure that the SSE handler serves any key: from a percent-encoded path
// segment and from the query, and its frames name the original key's
// channel.
func TestRuntime_SSEHandler_AnyKey(t *testing.T) {
	rt := newCounter(t, newEnv(t))
	ctx := ctxT(t)
	mux := http.NewServeMux()
	mux.Handle("GET /stock/{key}/events", rt.SSEHandler())
	mux.Handle("GET /events", rt.SSEHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, k := range []string{"tenant.7", "New York", "a/b:c", "100%", "日本語"} {
		_, err := rt.Apply(ctx, counterEvent{Key: k, Delta: 2})
		require.NoError(t, err)
		for _, u := range []string{
			srv.URL + "/stock/" + url.PathEscape(k) + "/events",
			srv.URL + "/events?key=" + url.QueryEscape(k),
		} {
			c := dialSSE(t, ctx, u, nil)
			require.Equal(t, http.StatusOK, c.resp.StatusCode, u)
			ev := c.next()
			require.Equal(t, "resync", ev.frame.Event, u)
			require.Equal(t, rt.Channel(k), ev.frame.Channel)
			require.Equal(t, k, ev.frame.Key)
			require.JSONEq(t, `{"Total":2}`, string(ev.frame.Data))
			c.resp.Body.Close()
		}
	}
}
