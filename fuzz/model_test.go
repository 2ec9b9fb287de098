package fuzz

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
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
}

// modelKeys are the keys an input can name: four valid ones (with a dot, a
// space and another script among them) and two a runtime must refuse.
var modelKeys = [...]string{"k0", "k.1", "k 2", "ключ3", "bad\xffkey", ""}

func validModelKey(k string) bool { return k != "bad\xffkey" && k != "" }

// modelOps bounds the work of one input, so that each stays fast.
const modelOps = 64

// FuzzModel runs a random sequence of Apply, ApplyBatch, Rebuild (empty
// too), Read, ReadRequired and Close-and-reopen of the runtime or of the
// store and runtime against a plain map, comparing every version returned,
// every state read and every error for invalid keys. After the sequence a
// fresh runtime must read the model back and Verify must find no damage.
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
		// The first byte picks the cache size: 1 evicts on every other key.
		var opts []projection.Option
		if in[0]%2 == 1 {
			opts = append(opts, projection.WithCacheSize(1))
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

		byteAt := func(i int) byte {
			if i < len(ops) {
				return ops[i]
			}
			return 0
		}
		for i, n := 0, 0; i < len(ops) && n < modelOps; n++ {
			op, key := ops[i]%8, modelKeys[int(byteAt(i+1))%len(modelKeys)]
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
				mk.state.Total += delta
				mk.state.Count++
				mk.version++
				mk.exists = true
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
					k := model[e.Key]
					k.state.Total += e.Delta
					k.state.Count++
					k.version++
					k.exists = true
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
				*mk = modelKey{state: want, version: uint64(count), exists: count > 0}
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
			}
		}

		m.reopen(true)
		for _, k := range modelKeys[:4] {
			snap, ok, err := m.rt.Read(ctx, k)
			if err != nil {
				t.Fatalf("Read(%q) after reopen = %v", k, err)
			}
			checkRead(t, k, snap, ok, model[k])
		}
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

func checkRead(t *testing.T, key string, snap projection.Snapshot[modelState], ok bool, mk *modelKey) {
	t.Helper()
	if ok != mk.exists || snap.Version != mk.version || snap.State != mk.state {
		t.Fatalf("Read(%q) = %+v, version %d, %v; want %+v, version %d, %v", key, snap.State, snap.Version, ok, mk.state, mk.version, mk.exists)
	}
}

// modelRun is the store and runtime one input works on.
type modelRun struct {
	t    *testing.T
	path string
	opts []projection.Option
	st   *boltstore.Store
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
	}
	rt, err := projection.New(m.st, nil, modelProjection{}, m.opts...)
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
		if err := m.st.Close(); err != nil {
			m.t.Fatalf("store Close = %v", err)
		}
	}
	m.open(store)
}

func (m *modelRun) close() {
	m.rt.Close()
	if err := m.st.Close(); err != nil {
		m.t.Errorf("store Close = %v", err)
	}
}
