package projection_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
	"github.com/stretchr/testify/require"
)

// item events append their Item to the key's list.
type item struct{ Key, Item string }

type itemList struct{ Items []string }

type items struct{}

func (items) Name() string      { return "test.items" }
func (items) Key(e item) string { return e.Key }
func (items) Apply(s *itemList, e item) string {
	s.Items = append(s.Items, e.Item)
	return e.Item
}

// server is a runtime of items on a file it can restart.
type server struct {
	t     *testing.T
	path  string
	opts  []projection.Option
	store *boltstore.Store
	bus   *pubsub.Bus
	rt    *projection.Runtime[item, itemList, string]
}

func newServer(t *testing.T, opts ...projection.Option) *server {
	s := &server{t: t, path: filepath.Join(t.TempDir(), "items.db"), opts: opts}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.store = openAt(s.t, s.path)
	s.bus = pubsub.New()
	rt, err := projection.New(s.store, s.bus, items{}, s.opts...)
	require.NoError(s.t, err)
	s.rt = rt
}

func (s *server) stop() {
	if s.rt == nil {
		return
	}
	s.rt.Close()
	s.bus.Close()
	require.NoError(s.t, s.store.Close())
	s.rt = nil
}

func (s *server) restart() { s.stop(); s.start() }

func (s *server) apply(key string, its ...string) {
	for _, it := range its {
		_, err := s.rt.Apply(ctxT(s.t), item{Key: key, Item: it})
		require.NoError(s.t, err)
	}
}

func (s *server) rebuild(key string, its ...string) {
	events := make([]item, len(its))
	for i, it := range its {
		events[i] = item{Key: key, Item: it}
	}
	_, err := s.rt.Rebuild(ctxT(s.t), key, slices.Values(events))
	require.NoError(s.t, err)
}

// client keeps a copy of one key built only from the updates it receives.
type client struct {
	items  []string
	exists bool
	cursor projection.Cursor
}

// take applies u, failing on a delta that does not follow the client's
// cursor.
func (c *client) take(t *testing.T, u projection.Update[itemList, string]) {
	t.Helper()
	switch u.Kind {
	case projection.KindDelta:
		require.Equal(t, projection.Cursor{Lineage: c.cursor.Lineage, Version: c.cursor.Version + 1}, u.Cursor(),
			"a delta that does not follow the client's cursor %v", c.cursor)
		c.items = append(slices.Clone(c.items), u.Delta)
		require.Equal(t, u.State.Items, c.items, "the delta's state and the client's fold disagree")
	case projection.KindDeleted:
		c.items, c.exists = nil, false
	default:
		c.items, c.exists = slices.Clone(u.State.Items), true
	}
	c.exists = u.Kind != projection.KindDeleted
	c.cursor = u.Cursor()
}

// follow subscribes the client (from the start, or resuming at its cursor)
// and takes updates until it reaches the server's state, which it must then
// equal.
func (c *client) follow(t *testing.T, s *server, key string, resume bool) {
	t.Helper()
	opt := projection.WithInitialState()
	if resume {
		opt = projection.WithSince(c.cursor)
	}
	sub, err := s.rt.Subscribe(ctxT(t), key, opt)
	require.NoError(t, err)
	defer sub.Close()
	snap, ok, err := s.rt.Read(ctxT(t), key)
	require.NoError(t, err)
	want := projection.Cursor{}
	if ok {
		want = snap.Cursor()
	}
	for c.cursor != want || c.exists != ok {
		c.take(t, next(t, sub))
	}
	require.Equal(t, snap.State.Items, c.items)
}

// historyChanges are the ways a key's history can change behind a
// disconnected client that holds its versions 1 to 5, [a1 .. a5].
var historyChanges = []struct {
	name   string
	opts   []projection.Option
	change func(s *server)
}{
	{"rebuilt, restarted, four more", nil, func(s *server) {
		s.rebuild("k", "r1", "r2", "r3")
		s.restart()
		s.apply("k", "x4", "x5", "x6", "x7")
	}},
	{"rebuilt to v3, restarted, two more (v5 again)", nil, func(s *server) {
		s.rebuild("k", "r1", "r2", "r3")
		s.restart()
		s.apply("k", "x4", "x5")
	}},
	{"rebuilt, evicted, four more", []projection.Option{projection.WithCacheSize(1)}, func(s *server) {
		s.rebuild("k", "r1", "r2", "r3")
		for i := range 200 { // evict k from its shard of one
			s.apply(string(rune('A'+i%26))+string(rune('a'+i/26)), "e")
		}
		s.apply("k", "x4", "x5", "x6", "x7")
	}},
	{"deleted, restarted, seven new", nil, func(s *server) {
		s.rebuild("k")
		s.restart()
		s.apply("k", "y1", "y2", "y3", "y4", "y5", "y6", "y7")
	}},
	{"nothing changed", nil, func(s *server) {}},
	{"within the history", nil, func(s *server) { s.apply("k", "a6", "a7") }},
}

// Ensure that every way a key's history can change behind a disconnected
// client ends with the client equal to the server when it resumes at its
// cursor: a rebuild and a restart, a rebuild to a version it had, an
// eviction instead of a restart, and a delete followed by a new history.
func TestRuntime_Subscribe_ResumeAcrossChangedHistories(t *testing.T) {
	for _, tc := range historyChanges {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opts...)
			var c client
			c.follow(t, s, "k", false)
			a := []string{"a1", "a2", "a3", "a4", "a5"}
			s.apply("k", a...)
			c.follow(t, s, "k", true)
			require.Equal(t, a, c.items)
			tc.change(s)
			c.follow(t, s, "k", true)
		})
	}
}

// Ensure that a browser that resumes with Last-Event-ID after each of the
// history changes ends equal to the server: the current state first when its
// cursor is stale, the missed deltas when they follow it; and that an id
// from an older server (a bare version) starts from the current state.
func TestRuntime_SSEHandler_ResumeAcrossChangedHistories(t *testing.T) {
	for _, tc := range historyChanges {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opts...)
			watcher, err := s.rt.Subscribe(ctxT(t), "k") // a browser was connected before
			require.NoError(t, err)
			watcher.Close()
			s.apply("k", "a1", "a2", "a3", "a4", "a5")
			snap, err := s.rt.ReadRequired(ctxT(t), "k")
			require.NoError(t, err)
			tc.change(s)
			for _, id := range []string{snap.Cursor().String(), "5"} {
				srv := httptest.NewServer(s.rt.SSEHandler())
				c := dialSSE(t, ctxT(t), srv.URL+"/?key=k", http.Header{"Last-Event-Id": {id}})
				items := []string{"a1", "a2", "a3", "a4", "a5"}
				now, err := s.rt.ReadRequired(ctxT(t), "k")
				require.NoError(t, err)
				for cur := id; cur != now.Cursor().String(); {
					ev := c.next()
					switch ev.frame.Event {
					case "delta":
						var item string
						require.NoError(t, json.Unmarshal(ev.frame.Data, &item))
						items = append(items, item)
					case "resync":
						var st itemList
						require.NoError(t, json.Unmarshal(ev.frame.Data, &st))
						items = st.Items
					default:
						t.Fatalf("unexpected frame %+v", ev.frame)
					}
					cur = ev.id
				}
				require.Equal(t, now.State.Items, items, "Last-Event-ID %q", id)
				c.resp.Body.Close()
				srv.Close()
			}
		})
	}
}

// Ensure that cursors print and parse as each other's inverse, and that
// anything else is refused.
func TestCursor_StringParse(t *testing.T) {
	for _, c := range []projection.Cursor{{}, {Lineage: 1, Version: 0}, {Lineage: ^uint64(0), Version: ^uint64(0)}, {Lineage: 0xabc, Version: 42}} {
		got, err := projection.ParseCursor(c.String())
		require.NoError(t, err)
		require.Equal(t, c, got)
	}
	for _, s := range []string{"", "5", "-5", "abc-", "abc-x", "ABC-1", "0abc-1", "abc-01", "abc-+1", "abc-1-2", " abc-1", "g-1"} {
		_, err := projection.ParseCursor(s)
		require.ErrorIs(t, err, projection.ErrInvalidCursor, "%q", s)
	}
}
