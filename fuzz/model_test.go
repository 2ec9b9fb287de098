package fuzz

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// modelEvent adds Delta to the total of Key.
type modelEvent struct {
	Key   string
	Delta int64
}

type modelState struct {
	Total int64
	Count int64 // events folded since the last rebuild
}

type modelProjection struct{}

func (modelProjection) Name() string            { return "fuzz.model" }
func (modelProjection) Key(e modelEvent) string { return e.Key }
func (modelProjection) Apply(s *modelState, e modelEvent) int64 {
	s.Total += e.Delta
	s.Count++
	return s.Total
}

// modelKey is what the model knows about one key.
type modelKey struct {
	state   modelState
	version uint64
	exists  bool
	// lineage is the key's lineage as last read, 0 once an apply that
	// created the key or a rebuild began a new one the model has not read
	// yet; past holds every lineage read, which the key must never reuse.
	lineage uint64
	past    []uint64
}

// modelKeys are the keys an input can name: four valid ones (with a dot, a
// space and another script among them) and two a runtime must refuse.
var modelKeys = [...]string{"k0", "k.1", "k 2", "ключ3", "bad\xffkey", ""}

func validModelKey(k string) bool { return k != "bad\xffkey" && k != "" }

// modelOps bounds the work of one input, so that each stays fast.
const modelOps = 64

// modelFiller is how many keys that are never written the evict op reads:
// each takes a slot of the cache, so that with WithCacheSize(1), one key per
// shard, every model key is evicted but with probability (63/64)^512, about
// 3e-4.
const modelFiller = 512

// drainTimeout bounds the wait of a client for updates that must come. It
// only ends a test that would otherwise hang: the updates of a runtime that
// is not broken arrive in microseconds.
const drainTimeout = 10 * time.Second

// FuzzModel runs a random sequence of Apply, ApplyBatch, Rebuild (empty
// too), Read, ReadRequired and Close-and-reopen of the runtime or of the
// store and runtime against a plain map, comparing every version returned,
// every state and lineage read and every error for invalid keys. A client
// subscribes to keys, disconnects and resumes WithSince its cursor in the
// same sequence; every update it receives must follow the copy it built
// from the earlier ones, and at each quiet point the copy must catch up with
// the runtime. After the sequence a fresh runtime must read the model back,
// the client must catch up with it once more, and Verify must find no
// damage.
//
// The first byte of an input sets options: bit 0 a cache of one key per
// shard, bit 1 a history of two updates. Then each op is three bytes: the
// op, a key and an argument, which some ops follow with more bytes.
func FuzzModel(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 5, 0, 0, 3, 4, 0})                      // applies, then read
	f.Add([]byte{1, 0, 1, 7, 5, 0, 0, 4, 1, 0})                   // close and reopen between apply and read
	f.Add([]byte{0, 3, 0, 0, 2, 3, 0, 1, 2, 0, 3, 0, 4, 0})       // batch over two keys, empty rebuild
	f.Add([]byte{0, 0, 4, 9, 0, 5, 1, 2, 2, 4, 3, 3, 4, 0, 4, 4}) // invalid keys everywhere
	f.Add([]byte{1, 0, 0, 1, 0, 1, 1, 0, 2, 1, 0, 3, 6, 0, 4, 2}) // eviction with a cache of one

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		// A cache size of 1 leaves one key per shard, so keys that share a
		// shard evict each other.
		var opts []projection.Option
		small := in[0]&1 != 0
		if small {
			opts = append(opts, projection.WithCacheSize(1))
		}
		if in[0]&2 != 0 {
			opts = append(opts, projection.WithHistory(2))
		}
		ops := in[1:]
		path := filepath.Join(t.TempDir(), "model.db")
		ctx := context.Background()
		m := newModelRun(t, path, opts)
		defer m.close()
		model := make(map[string]*modelKey)
		for _, k := range modelKeys {
			model[k] = &modelKey{}
		}
		c := &modelClient{t: t, keys: make(map[string]*clientKey)}
		// quiet brings every connected key of the client up to the runtime.
		quiet := func() {
			t.Helper()
			for _, k := range modelKeys[:4] {
				if ck := c.keys[k]; ck != nil && ck.sub != nil {
					snap, ok, err := m.rt.Read(ctx, k)
					if err != nil {
						t.Fatalf("Read(%q) = %v", k, err)
					}
					checkRead(t, k, snap, ok, model[k])
					c.catchUp(k, snap, ok)
				}
			}
		}

		byteAt := func(i int) byte {
			if i < len(ops) {
				return ops[i]
			}
			return 0
		}
		for i, n := 0, 0; i < len(ops) && n < modelOps; n++ {
			op, key := ops[i]%13, modelKeys[int(byteAt(i+1))%len(modelKeys)]
			arg := byteAt(i + 2)
			i += 3
			mk := model[key]
			switch op {
			case 0, 1: // Apply
				delta := int64(int8(arg))
				v, err := m.rt.Apply(ctx, modelEvent{Key: key, Delta: delta})
				if !validModelKey(key) {
					wantErr(t, "Apply", err, projection.ErrInvalidKey)
					continue
				}
				if err != nil {
					t.Fatalf("Apply(%q, %d) = %v", key, delta, err)
				}
				mk.fold(delta)
				if v != mk.version {
					t.Fatalf("Apply(%q) = version %d; want %d", key, v, mk.version)
				}
			case 2: // ApplyBatch of the next arg%5 (key, delta) pairs
				count := int(arg % 5)
				batch := make([]modelEvent, count)
				valid := true
				for j := range batch {
					batch[j] = modelEvent{
						Key:   modelKeys[int(byteAt(i))%len(modelKeys)],
						Delta: int64(int8(byteAt(i + 1))),
					}
					valid = valid && validModelKey(batch[j].Key)
					i += 2
				}
				err := m.rt.ApplyBatch(ctx, batch)
				if !valid {
					wantErr(t, "ApplyBatch", err, projection.ErrInvalidKey)
					continue
				}
				if err != nil {
					t.Fatalf("ApplyBatch(%v) = %v", batch, err)
				}
				for _, e := range batch {
					model[e.Key].fold(e.Delta)
				}
			case 3: // Rebuild from arg%5 events, the last one of another key if arg >= 128
				count := int(arg % 5)
				events := make([]modelEvent, count)
				var want modelState
				for j := range events {
					events[j] = modelEvent{Key: key, Delta: int64(int8(byteAt(i)))}
					want.Total += events[j].Delta
					want.Count++
					i++
				}
				mismatch := arg >= 128 && count > 0
				if mismatch {
					events[count-1].Key = modelKeys[(slices.Index(modelKeys[:], key)+1)%4]
				}
				s, err := m.rt.Rebuild(ctx, key, slices.Values(events))
				switch {
				case !validModelKey(key):
					wantErr(t, "Rebuild", err, projection.ErrInvalidKey)
					continue
				case mismatch:
					wantErr(t, "Rebuild", err, projection.ErrKeyMismatch)
					continue
				case err != nil:
					t.Fatalf("Rebuild(%q, %v) = %v", key, events, err)
				}
				if s != want {
					t.Fatalf("Rebuild(%q) = %+v; want %+v", key, s, want)
				}
				mk.state, mk.version, mk.exists, mk.lineage = want, uint64(count), count > 0, 0
			case 4, 5: // Read
				snap, ok, err := m.rt.Read(ctx, key)
				if !validModelKey(key) {
					wantErr(t, "Read", err, projection.ErrInvalidKey)
					continue
				}
				if err != nil {
					t.Fatalf("Read(%q) = %v", key, err)
				}
				checkRead(t, key, snap, ok, mk)
			case 6: // ReadRequired
				snap, err := m.rt.ReadRequired(ctx, key)
				switch {
				case !validModelKey(key):
					wantErr(t, "ReadRequired", err, projection.ErrInvalidKey)
				case !mk.exists:
					wantErr(t, "ReadRequired", err, projection.ErrNotFound)
				case err != nil:
					t.Fatalf("ReadRequired(%q) = %v", key, err)
				default:
					checkRead(t, key, snap, true, mk)
				}
			case 7: // Close and reopen: the runtime only if arg is even, else the store too
				m.reopen(arg%2 == 1)
				c.runtimeClosed()
			case 8: // Subscribe afresh WithInitialState, with a buffer of one if arg is odd
				c.subscribe(ctx, m.rt, key, false, arg%2 == 1)
			case 9: // Resume WithSince the client's cursor, with a buffer of one if arg is odd
				c.subscribe(ctx, m.rt, key, true, arg%2 == 1)
			case 10: // Disconnect, keeping the copy and its cursor
				c.disconnect(key)
			case 11: // A quiet point: the client catches up
				quiet()
			case 12: // Evict: with a small cache, read so many other keys that every key is evicted
				if small {
					for j := range modelFiller {
						if _, ok, err := m.rt.Read(ctx, "filler "+strconv.Itoa(j)); ok || err != nil {
							t.Fatalf("Read(filler %d) = %v, %v; want nothing", j, ok, err)
						}
					}
				}
			}
		}

		quiet()
		m.reopen(true)
		c.runtimeClosed()
		for _, k := range modelKeys[:4] {
			snap, ok, err := m.rt.Read(ctx, k)
			if err != nil {
				t.Fatalf("Read(%q) after reopen = %v", k, err)
			}
			checkRead(t, k, snap, ok, model[k])
			if c.keys[k] != nil {
				c.subscribe(ctx, m.rt, k, true, false)
			}
		}
		quiet()
		c.disconnectAll()
		bad, err := m.st.Verify(ctx)
		if err != nil || len(bad) != 0 {
			t.Fatalf("Verify = %v, %v; want no damage", bad, err)
		}
	})
}

func wantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v; want %v", call, err, want)
	}
}

// fold records an applied event: a key created by it starts a new lineage.
func (mk *modelKey) fold(delta int64) {
	if !mk.exists {
		mk.lineage = 0
	}
	mk.state.Total += delta
	mk.state.Count++
	mk.version++
	mk.exists = true
}

// checkRead compares a read with the model, and learns the key's lineage
// if a new one began since the model last read it.
func checkRead(t *testing.T, key string, snap projection.Snapshot[modelState], ok bool, mk *modelKey) {
	t.Helper()
	if ok != mk.exists || snap.Version != mk.version || snap.State != mk.state {
		t.Fatalf("Read(%q) = %+v, version %d, %v; want %+v, version %d, %v", key, snap.State, snap.Version, ok, mk.state, mk.version, mk.exists)
	}
	switch {
	case !ok:
		if snap.Lineage != 0 {
			t.Fatalf("Read(%q) = no snapshot with lineage %x; want 0", key, snap.Lineage)
		}
	case mk.lineage == 0:
		if snap.Lineage == 0 || slices.Contains(mk.past, snap.Lineage) {
			t.Fatalf("Read(%q) = lineage %x; want a new one, not 0 nor one of %x", key, snap.Lineage, mk.past)
		}
		mk.lineage = snap.Lineage
		mk.past = append(mk.past, snap.Lineage)
	case snap.Lineage != mk.lineage:
		t.Fatalf("Read(%q) = lineage %x; want %x, unchanged since the last read", key, snap.Lineage, mk.lineage)
	}
}

// modelRun is the store, bus and runtime one input works on.
type modelRun struct {
	t    *testing.T
	path string
	opts []projection.Option
	st   *boltstore.Store
	bus  *pubsub.Bus // replaced with the store, as by a restart of the process
	rt   *projection.Runtime[modelEvent, modelState, int64]
}

func newModelRun(t *testing.T, path string, opts []projection.Option) *modelRun {
	m := &modelRun{t: t, path: path, opts: opts}
	m.open(true)
	return m
}

func (m *modelRun) open(store bool) {
	m.t.Helper()
	if store {
		st, err := boltstore.Open(m.path, boltstore.WithNoSync())
		if err != nil {
			m.t.Fatalf("Open = %v", err)
		}
		m.st = st
		m.bus = pubsub.New()
	}
	rt, err := projection.New(m.st, m.bus, modelProjection{}, m.opts...)
	if err != nil {
		m.t.Fatalf("New = %v", err)
	}
	m.rt = rt
}

// reopen closes the runtime, and the store if store is set, and opens them
// again on the same file.
func (m *modelRun) reopen(store bool) {
	m.t.Helper()
	m.rt.Close()
	if _, err := m.rt.Apply(context.Background(), modelEvent{Key: "k0", Delta: 1}); !errors.Is(err, projection.ErrClosed) {
		m.t.Fatalf("Apply after Close = %v; want ErrClosed", err)
	}
	if store {
		m.bus.Close()
		if err := m.st.Close(); err != nil {
			m.t.Fatalf("store Close = %v", err)
		}
	}
	m.open(store)
}

func (m *modelRun) close() {
	m.rt.Close()
	m.bus.Close()
	if err := m.st.Close(); err != nil {
		m.t.Errorf("store Close = %v", err)
	}
}

// modelClient is a subscriber as a remote client would be one: it keeps a
// copy of each key it subscribed to, built only from the updates it
// received, and resumes WithSince the cursor of that copy. It checks every
// update against the copy: a delta must follow the cursor, and every state
// must agree with its version (the model folds one Count per version).
type modelClient struct {
	t    *testing.T
	keys map[string]*clientKey // the keys subscribed to at least once
}

// clientKey is the client's copy of one key.
type clientKey struct {
	sub     *projection.Subscription[modelState, int64] // nil while disconnected
	state   modelState
	present bool
	cur     projection.Cursor
	// initial says the subscription started WithInitialState and its first
	// update, which must be a resync or a deletion, has not come yet.
	initial bool
}

// subscribe connects the client to key, closing its subscription first if
// it has one. Afresh, the client drops its copy and asks WithInitialState;
// resuming, it keeps the copy and asks WithSince its cursor, the zero Cursor
// for a key it never subscribed to.
func (c *modelClient) subscribe(ctx context.Context, rt *projection.Runtime[modelEvent, modelState, int64], key string, resume, tiny bool) {
	c.t.Helper()
	c.disconnect(key)
	ck := c.keys[key]
	if ck == nil || !resume {
		ck = &clientKey{}
	}
	opts := []projection.SubscribeOption{projection.WithInitialState()}
	if resume {
		opts = []projection.SubscribeOption{projection.WithSince(ck.cur)}
	}
	if tiny {
		// A subscriber that does not read at once overflows, and must be
		// resynced rather than skip an update.
		opts = append(opts, projection.WithBuffer(1))
	}
	sub, err := rt.Subscribe(ctx, key, opts...)
	if !validModelKey(key) {
		wantErr(c.t, "Subscribe", err, projection.ErrInvalidKey)
		return
	}
	if err != nil {
		c.t.Fatalf("Subscribe(%q, resume %v from %v) = %v", key, resume, ck.cur, err)
	}
	ck.sub, ck.initial = sub, !resume
	c.keys[key] = ck
}

// disconnect closes key's subscription, if any, and keeps the copy: what
// was not received yet is lost, as with a dropped connection.
func (c *modelClient) disconnect(key string) {
	c.t.Helper()
	ck := c.keys[key]
	if ck == nil || ck.sub == nil {
		return
	}
	ck.sub.Close()
	if err := ck.sub.Err(); !errors.Is(err, pubsub.ErrUnsubscribed) {
		c.t.Fatalf("Err after Close of the subscription to %q = %v; want %v", key, err, pubsub.ErrUnsubscribed)
	}
	ck.sub = nil
}

func (c *modelClient) disconnectAll() {
	c.t.Helper()
	for _, k := range modelKeys {
		c.disconnect(k)
	}
}

// runtimeClosed takes note that the runtime was closed: every subscription
// must have ended with ErrClosed, after what it had sent.
func (c *modelClient) runtimeClosed() {
	c.t.Helper()
	for _, k := range modelKeys {
		ck := c.keys[k]
		if ck == nil || ck.sub == nil {
			continue
		}
		for u := range ck.sub.C() {
			c.receive(k, u)
		}
		if err := ck.sub.Err(); !errors.Is(err, projection.ErrClosed) {
			c.t.Fatalf("Err of the subscription to %q after the runtime's Close = %v; want %v", k, err, projection.ErrClosed)
		}
		ck.sub = nil
	}
}

// catchUp receives key's updates until the client's copy stands where the
// runtime's snapshot does (ok false: no snapshot), and then compares them.
// The runtime changes nothing meanwhile, so every update it must send is
// sent or on its way.
func (c *modelClient) catchUp(key string, snap projection.Snapshot[modelState], ok bool) {
	c.t.Helper()
	ck := c.keys[key]
	var want projection.Cursor
	if ok {
		want = snap.Cursor()
	}
	timeout := time.NewTimer(drainTimeout)
	defer timeout.Stop()
	for ck.cur != want {
		select {
		case u, open := <-ck.sub.C():
			if !open {
				c.t.Fatalf("subscription to %q ended at %v, short of %v: %v", key, ck.cur, want, ck.sub.Err())
			}
			c.receive(key, u)
		case <-timeout.C:
			c.t.Fatalf("client of %q still at %v after %v; the runtime is at %v", key, ck.cur, drainTimeout, want)
		}
	}
	if ck.present != ok || ck.state != snap.State {
		c.t.Fatalf("client of %q at %v has %+v, present %v; the runtime has %+v, present %v", key, ck.cur, ck.state, ck.present, snap.State, ok)
	}
}

// receive applies u to the client's copy of key, after checking that it
// may follow it.
func (c *modelClient) receive(key string, u projection.Update[modelState, int64]) {
	c.t.Helper()
	ck := c.keys[key]
	if u.Key != key {
		c.t.Fatalf("subscription to %q got an update of %q", key, u.Key)
	}
	if ck.initial && u.Kind != projection.KindResync && u.Kind != projection.KindDeleted {
		c.t.Fatalf("first update of %q WithInitialState is a %v; want a resync or a deletion", key, u.Kind)
	}
	ck.initial = false
	if u.Kind != projection.KindDelta && u.Delta != 0 {
		c.t.Fatalf("%v of %q carries delta %d; want 0", u.Kind, key, u.Delta)
	}
	if u.Kind != projection.KindDeleted && (u.Lineage == 0 || u.Version == 0 || uint64(u.State.Count) != u.Version) {
		c.t.Fatalf("%v of %q at %v carries %+v; want a lineage and one event counted per version", u.Kind, key, u.Cursor(), u.State)
	}
	switch u.Kind {
	case projection.KindDelta:
		// The first delta of a key created after the copy was made (or
		// found absent) builds on nothing, in a lineage of its own.
		follows := ck.present && u.Lineage == ck.cur.Lineage && u.Version == ck.cur.Version+1 ||
			!ck.present && u.Version == 1
		if !follows {
			c.t.Fatalf("delta of %q to %v does not follow the client's cursor %v (present %v)", key, u.Cursor(), ck.cur, ck.present)
		}
		if u.Delta != u.State.Total {
			c.t.Fatalf("delta of %q to %v is %d; the fold returned the total %d", key, u.Cursor(), u.Delta, u.State.Total)
		}
	case projection.KindRebuild:
		if u.Lineage == ck.cur.Lineage {
			c.t.Fatalf("rebuild of %q to %v keeps the lineage of the client's cursor %v; a rebuild starts a new one", key, u.Cursor(), ck.cur)
		}
	case projection.KindResync:
		if u.Lineage == ck.cur.Lineage && u.Version < ck.cur.Version {
			c.t.Fatalf("resync of %q to %v goes back from the client's cursor %v", key, u.Cursor(), ck.cur)
		}
	case projection.KindDeleted:
		if u.Cursor() != (projection.Cursor{}) || u.State != (modelState{}) {
			c.t.Fatalf("deletion of %q at %v carries %+v; want the zero cursor and state", key, u.Cursor(), u.State)
		}
		ck.state, ck.present, ck.cur = modelState{}, false, projection.Cursor{}
		return
	default:
		c.t.Fatalf("update of %q has kind %v", key, u.Kind)
	}
	ck.state, ck.present, ck.cur = u.State, true, u.Cursor()
}
