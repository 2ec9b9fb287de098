package projection_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openAt opens a store at path that the test closes itself, because it
// reopens the file in between.
func openAt(t *testing.T, path string, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(path, append([]boltstore.Option{boltstore.WithNoSync()}, opts...)...)
	require.NoError(t, err)
	return st
}

// rewriteRaw replaces the stored value of bucket/key with f(value) through a
// raw bbolt handle, while no Store holds the file: what a disk error or a
// foreign writer would leave.
func rewriteRaw(t *testing.T, path, bucket, key string, f func(v []byte) []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		require.NotNil(t, b, "bucket %q", bucket)
		v := b.Get([]byte(key))
		require.NotNil(t, v, "key %q", key)
		return b.Put([]byte(key), f(bytes.Clone(v)))
	}))
}

// fillCounters applies one event of delta 10*i+1 to each key i of keys and
// closes the store.
func fillCounters(t *testing.T, path string, keys ...string) {
	t.Helper()
	st := openAt(t, path)
	rt, err := projection.New(st, nil, counter{})
	require.NoError(t, err)
	for i, k := range keys {
		_, err := rt.Apply(ctxT(t), counterEvent{Key: k, Delta: int64(10*i + 1)})
		require.NoError(t, err)
	}
	rt.Close()
	require.NoError(t, st.Close())
}

// requireCorrupt checks that err is ErrCorrupt and names the projection and
// the key.
func requireCorrupt(t *testing.T, err error, name, key string) {
	t.Helper()
	require.ErrorIs(t, err, projection.ErrCorrupt)
	require.Contains(t, err.Error(), `"`+name+`"`)
	require.Contains(t, err.Error(), `"`+key+`"`)
}

// Ensure that a record whose bytes were damaged on disk is reported by Read,
// ReadRequired, Apply and ApplyBatch as ErrCorrupt naming projection and key,
// that the other keys keep working, that Verify lists exactly that record,
// and that a Rebuild repairs it.
func TestRuntime_Read_DamagedRecordIsErrCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "damaged.db")
	fillCounters(t, path, "a", "b", "c")
	name := counter{}.Name()
	rewriteRaw(t, path, name, "b", func(v []byte) []byte {
		v[len(v)-1] ^= 0x10 // one bit of the state
		return v
	})

	st := openAt(t, path)
	defer st.Close()
	bus := pubsub.New()
	defer bus.Close()
	rt, err := projection.New(st, bus, counter{})
	require.NoError(t, err)
	defer rt.Close()
	ctx := ctxT(t)

	_, ok, err := rt.Read(ctx, "b")
	requireCorrupt(t, err, name, "b")
	require.False(t, ok)
	_, err = rt.ReadRequired(ctx, "b")
	requireCorrupt(t, err, name, "b")
	_, err = rt.Apply(ctx, counterEvent{Key: "b", Delta: 1})
	requireCorrupt(t, err, name, "b")
	err = rt.ApplyBatch(ctx, []counterEvent{{Key: "a", Delta: 1}, {Key: "b", Delta: 1}})
	requireCorrupt(t, err, name, "b")
	_, err = rt.Subscribe(ctx, "b", projection.WithInitialState())
	requireCorrupt(t, err, name, "b")

	// The failed batch changed nothing, and other keys keep working.
	snap, err := rt.ReadRequired(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, projection.Snapshot[counterState]{State: counterState{Total: 1}, Version: 1, Lineage: snap.Lineage, UpdatedAt: snap.UpdatedAt}, snap)
	v, err := rt.Apply(ctx, counterEvent{Key: "c", Delta: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)

	bad, err := st.Verify(ctx)
	require.NoError(t, err)
	require.Len(t, bad, 1)
	require.Equal(t, name, bad[0].Bucket)
	require.Equal(t, "b", bad[0].Key)

	// Rebuild over the damaged record repairs it and tells subscribers.
	sub, err := rt.Subscribe(ctx, "b")
	require.NoError(t, err)
	defer sub.Close()
	s, err := rt.Rebuild(ctx, "b", slices.Values([]counterEvent{{Key: "b", Delta: 11}, {Key: "b", Delta: 1}}))
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 12}, s)
	u := next(t, sub)
	require.Equal(t, projection.KindRebuild, u.Kind)
	require.Equal(t, uint64(2), u.Version)
	v, err = rt.Apply(ctx, counterEvent{Key: "b", Delta: 100})
	require.NoError(t, err)
	require.Equal(t, uint64(3), v)
	bad, err = st.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, bad)

	// The repair is on disk, as seen by a runtime with an empty cache.
	fresh, err := projection.New(st, nil, counter{})
	require.NoError(t, err)
	snap, err = fresh.ReadRequired(ctx, "b")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 112}, snap.State)
	require.Equal(t, uint64(3), snap.Version)
}

// Ensure that damage to any byte of a record's header or state is detected:
// every single-bit flip is ErrCorrupt, never a wrong state.
func TestRuntime_Read_EveryBitFlipIsDetected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flips.db")
	fillCounters(t, path, "k")
	var orig []byte
	rewriteRaw(t, path, counter{}.Name(), "k", func(v []byte) []byte { orig = v; return v })
	for i := range len(orig) * 8 {
		rewriteRaw(t, path, counter{}.Name(), "k", func([]byte) []byte {
			v := bytes.Clone(orig)
			v[i/8] ^= 1 << (i % 8)
			return v
		})
		st := openAt(t, path)
		rt, err := projection.New(st, nil, counter{})
		require.NoError(t, err)
		_, _, err = rt.Read(ctxT(t), "k")
		requireCorrupt(t, err, counter{}.Name(), "k")
		rt.Close()
		require.NoError(t, st.Close())
	}
}

// Ensure that a record with a valid checksum around state bytes that are not
// a msgpack encoding of the state type (or would allocate without bound) is
// ErrCorrupt naming projection and key, never a panic, that the runtime's
// Verify lists it, and that a Rebuild repairs it.
func TestRuntime_Read_UndecodableStateIsErrCorrupt(t *testing.T) {
	garbage := map[string][]byte{
		"never-used byte":    {0xc1},
		"truncated map":      {0x81, 0xa5, 'T', 'o', 't'},
		"string for struct":  {0xa3, 'a', 'b', 'c'},
		"wrong field type":   {0x81, 0xa5, 'T', 'o', 't', 'a', 'l', 0xa1, 'x'},
		"huge array header":  {0xdd, 0xff, 0xff, 0xff, 0xff},
		"huge map header":    {0xdf, 0xff, 0xff, 0xff, 0xff},
		"huge string header": {0x81, 0xa5, 'T', 'o', 't', 'a', 'l', 0xdb, 0xff, 0xff, 0xff, 0xff},
		"bool for struct":    {0xc3},
	}
	for what, state := range garbage {
		t.Run(what, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "undecodable.db")
			fillCounters(t, path, "k", "other")
			rewriteRaw(t, path, counter{}.Name(), "k", func(v []byte) []byte {
				r, err := boltstore.DecodeRecord(v)
				require.NoError(t, err)
				r.State = state
				return boltstore.EncodeRecord(nil, r)
			})
			st := openAt(t, path)
			defer st.Close()
			rt, err := projection.New(st, nil, counter{})
			require.NoError(t, err)
			defer rt.Close()
			ctx := ctxT(t)

			bad, err := st.Verify(ctx)
			require.NoError(t, err)
			require.Empty(t, bad, "the record itself is intact; only its state does not decode")
			damaged, err := rt.Verify(ctx)
			require.NoError(t, err)
			require.Len(t, damaged, 1, "the runtime decodes states, so it finds the key")
			require.Equal(t, "k", damaged[0].Key)
			requireCorrupt(t, damaged[0].Err, counter{}.Name(), "k")
			_, _, err = rt.Read(ctx, "k")
			requireCorrupt(t, err, counter{}.Name(), "k")
			_, err = rt.Apply(ctx, counterEvent{Key: "k", Delta: 1})
			requireCorrupt(t, err, counter{}.Name(), "k")
			snap, err := rt.ReadRequired(ctx, "other")
			require.NoError(t, err)
			require.Equal(t, int64(11), snap.State.Total)

			_, err = rt.Rebuild(ctx, "k", slices.Values([]counterEvent{{Key: "k", Delta: 7}}))
			require.NoError(t, err)
			snap, err = rt.ReadRequired(ctx, "k")
			require.NoError(t, err)
			require.Equal(t, counterState{Total: 7}, snap.State)
			require.Equal(t, uint64(1), snap.Version)
			damaged, err = rt.Verify(ctx)
			require.NoError(t, err)
			require.Empty(t, damaged)
		})
	}
}

// blobEvent sets the state of Key to Size bytes.
type blobEvent struct {
	Key  string
	Size int
}

type blobState struct {
	Data []byte
	N    int
}

type blob struct{}

func (blob) Name() string           { return "test.blob" }
func (blob) Key(e blobEvent) string { return e.Key }
func (blob) Apply(s *blobState, e blobEvent) int {
	s.Data = bytes.Repeat([]byte{byte(e.Size)}, e.Size)
	s.N++
	return e.Size
}

// Ensure that when the disk is full (WithMaxSize) an Apply fails with
// store.ErrCommit naming projection and key, and changes nothing: not
// the state read back, not the version, not what subscribers see, not what
// a fresh runtime reads from disk; and that the same runtime and store work
// again once space is freed.
func TestRuntime_Apply_FullDiskChangesNothingThenRecovers(t *testing.T) {
	const quota = 1 << 20
	e := newEnv(t, boltstore.WithMaxSize(quota))
	rt, err := projection.New(e.store, e.bus, blob{})
	require.NoError(t, err)
	ctx := ctxT(t)

	v, err := rt.Apply(ctx, blobEvent{Key: "small", Size: 10})
	require.NoError(t, err)
	require.Equal(t, uint64(1), v)
	_, err = rt.Apply(ctx, blobEvent{Key: "filler", Size: quota / 2})
	require.NoError(t, err)
	sub, err := rt.Subscribe(ctx, "small")
	require.NoError(t, err)
	defer sub.Close()

	_, err = rt.Apply(ctx, blobEvent{Key: "small", Size: quota / 2})
	require.ErrorIs(t, err, store.ErrCommit)
	require.ErrorIs(t, err, berrors.ErrMaxSizeReached)
	require.Contains(t, err.Error(), `"test.blob"`)
	require.Contains(t, err.Error(), `"small"`)

	check := func(rt *projection.Runtime[blobEvent, blobState, int]) {
		t.Helper()
		snap, err := rt.ReadRequired(ctx, "small")
		require.NoError(t, err)
		require.Equal(t, blobState{Data: bytes.Repeat([]byte{10}, 10), N: 1}, snap.State)
		require.Equal(t, uint64(1), snap.Version)
	}
	check(rt)
	fresh, err := projection.New(e.store, nil, blob{})
	require.NoError(t, err)
	check(fresh)

	// Deleting the filler frees its pages; the same apply now fits.
	_, err = rt.Rebuild(ctx, "filler", slices.Values([]blobEvent(nil)))
	require.NoError(t, err)
	v, err = rt.Apply(ctx, blobEvent{Key: "small", Size: quota / 2})
	require.NoError(t, err)
	require.Equal(t, uint64(2), v, "the failed apply must not have counted")

	// The subscriber saw nothing of the failed apply.
	u := next(t, sub)
	require.Equal(t, uint64(2), u.Version)
	require.Len(t, u.State.Data, quota/2)
}

// Ensure that with the store closed every call fails with ErrClosed, also
// for keys the runtime has cached, and that nothing changed on disk.
func TestRuntime_Apply_ClosedStoreEveryCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "closed.db")
	st := openAt(t, path)
	bus := pubsub.New()
	defer bus.Close()
	rt, err := projection.New(st, bus, counter{})
	require.NoError(t, err)
	defer rt.Close()
	ctx := ctxT(t)
	_, err = rt.Apply(ctx, counterEvent{Key: "cached", Delta: 5})
	require.NoError(t, err)
	require.NoError(t, st.Close())

	for _, key := range []string{"cached", "absent"} {
		_, err = rt.Apply(ctx, counterEvent{Key: key, Delta: 1})
		require.ErrorIs(t, err, projection.ErrClosed, key)
		require.ErrorIs(t, rt.ApplyBatch(ctx, []counterEvent{{Key: key, Delta: 1}}), projection.ErrClosed, key)
		_, err = rt.Rebuild(ctx, key, slices.Values([]counterEvent{{Key: key, Delta: 1}}))
		require.ErrorIs(t, err, projection.ErrClosed, key)
		_, err = rt.Rebuild(ctx, key, slices.Values([]counterEvent(nil)))
		require.ErrorIs(t, err, projection.ErrClosed, key)
	}
	for _, key := range []string{"cached", "absent"} {
		_, _, err = rt.Read(ctx, key)
		require.ErrorIs(t, err, projection.ErrClosed, key)
		_, err = rt.Subscribe(ctx, key, projection.WithInitialState())
		require.ErrorIs(t, err, projection.ErrClosed, key)
	}

	st = openAt(t, path)
	defer st.Close()
	fresh, err := projection.New(st, nil, counter{})
	require.NoError(t, err)
	snap, err := fresh.ReadRequired(ctx, "cached")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 5}, snap.State)
	require.Equal(t, uint64(1), snap.Version)
	_, ok, err := fresh.Read(ctx, "absent")
	require.NoError(t, err)
	require.False(t, ok)
}

// closeRace runs producers that apply to a few keys until their calls are
// refused, calls closeFn once some applies were acknowledged, and returns
// how many applies succeeded per key. Every call must either succeed or fail
// with ErrClosed.
func closeRace(t *testing.T, rt *projection.Runtime[counterEvent, counterState, counterDelta], closeFn func()) map[string]uint64 {
	t.Helper()
	ctx := ctxT(t)
	keys := []string{"k0", "k1", "k2"}
	var mu sync.Mutex
	acked := make(map[string]uint64) // guarded by mu
	var wg sync.WaitGroup
	started := make(chan struct{}, 64)
	errs := make(chan error, 8)
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := keys[(p+i)%len(keys)]
				var err error
				if i%5 == 4 {
					err = rt.ApplyBatch(ctx, []counterEvent{{Key: key, Delta: 1}, {Key: key, Delta: 1}})
				} else {
					_, err = rt.Apply(ctx, counterEvent{Key: key, Delta: 1})
				}
				if errors.Is(err, projection.ErrClosed) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				acked[key] += 1 + uint64(i%5/4)
				mu.Unlock()
				select {
				case started <- struct{}{}:
				default:
				}
			}
		}()
	}
	for range 16 {
		<-started
	}
	closeFn()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("apply racing Close = %v; want success or ErrClosed", err)
	}
	return acked
}

// Ensure that closing the runtime while applies and batches run loses no
// acknowledged apply and applies nothing that was refused: each key's
// stored version is exactly its number of acknowledged events.
func TestRuntime_Close_RacingAppliesLoseNothing(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	acked := closeRace(t, rt, rt.Close)
	checkAcked(t, e.store, acked)
}

// Ensure the same when the store is closed under running applies: accepted
// commits complete, refused ones change nothing.
func TestStore_Close_RacingAppliesLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "race.db")
	st := openAt(t, path)
	rt, err := projection.New(st, nil, counter{})
	require.NoError(t, err)
	defer rt.Close()
	acked := closeRace(t, rt, func() { require.NoError(t, st.Close()) })
	st = openAt(t, path)
	defer st.Close()
	checkAcked(t, st, acked)
}

func checkAcked(t *testing.T, st store.Store, acked map[string]uint64) {
	t.Helper()
	fresh, err := projection.New(st, nil, counter{})
	require.NoError(t, err)
	var total uint64
	for key, n := range acked {
		snap, _, err := fresh.Read(ctxT(t), key)
		require.NoError(t, err)
		require.Equal(t, n, snap.Version, "key %s", key)
		require.Equal(t, int64(n), snap.State.Total, "key %s", key)
		total += n
	}
	require.NotZero(t, total)
}

// Ensure that an apply cancelled while it waits for its key's lock, held
// by a Rebuild of the same key, returns the context's error, changes
// nothing and leaves the lock usable.
func TestRuntime_Apply_CancelledWaitingForKeyLock(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	ctx := ctxT(t)
	inRebuild, release := make(chan struct{}), make(chan struct{})
	rebuilt := make(chan error, 1)
	go func() {
		_, err := rt.Rebuild(ctx, "k", func(yield func(counterEvent) bool) {
			close(inRebuild)
			<-release // the key's lock is held here
			yield(counterEvent{Key: "k", Delta: 2})
		})
		rebuilt <- err
	}()
	<-inRebuild

	// The lock stays held until release, so these can only end by their
	// contexts.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err := rt.Apply(short, counterEvent{Key: "k", Delta: 1})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, rt.ApplyBatch(short, []counterEvent{{Key: "a", Delta: 1}, {Key: "k", Delta: 1}}), context.DeadlineExceeded)
	_, err = rt.Rebuild(short, "k", slices.Values([]counterEvent{{Key: "k", Delta: 50}}))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	close(release)
	require.NoError(t, <-rebuilt)
	snap, err := rt.ReadRequired(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 2}, snap.State)
	require.Equal(t, uint64(1), snap.Version)
	_, ok, err := rt.Read(ctx, "a")
	require.NoError(t, err)
	require.False(t, ok, "the cancelled batch must not have applied its other key")
	v, err := rt.Apply(ctx, counterEvent{Key: "k", Delta: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(2), v)
}

// Ensure that a Rebuild whose context ends while it iterates its events
// fails and leaves the old snapshot.
func TestRuntime_Rebuild_CancelledMidwayChangesNothing(t *testing.T) {
	e := newEnv(t)
	rt := newCounter(t, e)
	ctx := ctxT(t)
	_, err := rt.Apply(ctx, counterEvent{Key: "k", Delta: 3})
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	_, err = rt.Rebuild(rctx, "k", func(yield func(counterEvent) bool) {
		for i := range 10 {
			if i == 5 {
				cancel()
			}
			if !yield(counterEvent{Key: "k", Delta: 100}) {
				return
			}
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	snap, err := rt.ReadRequired(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, counterState{Total: 3}, snap.State)
	require.Equal(t, uint64(1), snap.Version)
}

// Ensure that applies cancelled while they wait for room in the store's
// queue return the context's error and change nothing, while the applies
// already queued complete even though their contexts end: nothing lost,
// nothing changed, no hang.
func TestRuntime_Apply_CancelledWaitingForQueueRoom(t *testing.T) {
	e := newEnv(t, boltstore.WithQueueSize(1))
	fs := newFaultStore(e.store, make(chan struct{}, 4))
	rt, err := projection.New(fs, e.bus, counter{})
	require.NoError(t, err)
	ctx := ctxT(t)
	sub, err := rt.Subscribe(ctx, "c")
	require.NoError(t, err)
	defer sub.Close()

	// A's callback holds the committer; B fills the queue of one.
	started, release := fs.holdNext()
	defer release()
	results := make(chan error, 2)
	go func() {
		_, err := rt.Apply(ctx, counterEvent{Key: "a", Delta: 1})
		results <- err
	}()
	<-started
	<-fs.submits
	bctx, bcancel := context.WithCancel(ctx)
	go func() {
		_, err := rt.Apply(bctx, counterEvent{Key: "b", Delta: 1})
		results <- err
	}()
	<-fs.submits
	bcancel() // B is queued: it must still report its commit

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = rt.Apply(short, counterEvent{Key: "c", Delta: 1})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, rt.ApplyBatch(short, []counterEvent{{Key: "c", Delta: 1}, {Key: "d", Delta: 1}}), context.DeadlineExceeded)
	_, err = rt.Rebuild(short, "c", slices.Values([]counterEvent{{Key: "c", Delta: 9}}))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	release()
	require.NoError(t, <-results)
	require.NoError(t, <-results)
	for _, k := range []string{"a", "b"} {
		snap, err := rt.ReadRequired(ctx, k)
		require.NoError(t, err)
		require.Equal(t, uint64(1), snap.Version, k)
	}
	for _, k := range []string{"c", "d"} {
		_, ok, err := rt.Read(ctx, k)
		require.NoError(t, err)
		require.False(t, ok, "%s changed by a cancelled call", k)
	}
	v, err := rt.Apply(ctx, counterEvent{Key: "c", Delta: 4})
	require.NoError(t, err)
	require.Equal(t, uint64(1), v)
	u := next(t, sub)
	require.Equal(t, uint64(1), u.Version, "the subscriber saw a cancelled call")
	require.Equal(t, int64(4), u.State.Total)
}

// Ensure that an error naming a key never hides the cause: a corrupt
// snapshot's error also carries the store's CorruptError with its reason.
func TestRuntime_Read_CorruptErrorCarriesStoreReason(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reason.db")
	fillCounters(t, path, "k")
	rewriteRaw(t, path, counter{}.Name(), "k", func(v []byte) []byte {
		v[0] = 7 // an unknown format byte
		return v
	})
	st := openAt(t, path)
	defer st.Close()
	rt, err := projection.New(st, nil, counter{})
	require.NoError(t, err)
	_, _, err = rt.Read(ctxT(t), "k")
	var ce *store.CorruptError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "k", ce.Key)
	require.True(t, strings.Contains(ce.Reason, "format"), ce.Reason)
}

// updateTestdata regenerates the old-schema snapshot kept in testdata.
var updateTestdata = flag.Bool("update-testdata", false, "rewrite projection/testdata/state_v1.msgpack")

const stateV1File = "testdata/state_v1.msgpack"

// profileV1 is the state type of version 1 of a projection.
type profileV1 struct {
	Name   string
	Visits int64
	Legacy string   // dropped in version 2
	Score  int64    `msgpack:"score"` // renamed in version 2, tag kept
	Tags   []string // unchanged
}

// profileV2 is version 2 of the same state: Legacy is gone, Score is now
// Points under the same msgpack name, and Email and Flags are new.
type profileV2 struct {
	Name   string
	Visits int64
	Points int64 `msgpack:"score"`
	Tags   []string
	Email  string
	Flags  map[string]bool
}

type profileEventV1 struct {
	Key   string
	Score int64
	Tag   string
}

type profileProjV1 struct{}

func (profileProjV1) Name() string                { return "test.profile" }
func (profileProjV1) Key(e profileEventV1) string { return e.Key }
func (profileProjV1) Apply(s *profileV1, e profileEventV1) int64 {
	s.Name = "user-" + e.Key
	s.Visits++
	s.Legacy = "v1 only"
	s.Score += e.Score
	s.Tags = append(s.Tags, e.Tag)
	return s.Score
}

type profileEventV2 struct {
	Key    string
	Points int64
	Email  string
}

type profileProjV2 struct{}

func (profileProjV2) Name() string                { return "test.profile" }
func (profileProjV2) Key(e profileEventV2) string { return e.Key }
func (profileProjV2) Apply(s *profileV2, e profileEventV2) int64 {
	s.Visits++
	s.Points += e.Points
	s.Email = e.Email
	if s.Flags == nil {
		s.Flags = map[string]bool{}
	}
	s.Flags["v2"] = true
	return s.Points
}

// TestSchema_GenerateV1Testdata wrote stateV1File: the state bytes a version
// 1 runtime stored after three events. It only runs with -update-testdata,
// because the point of the file is to stay as version 1 wrote it.
func TestSchema_GenerateV1Testdata(t *testing.T) {
	if !*updateTestdata {
		t.Skip("run with -update-testdata to rewrite " + stateV1File)
	}
	e := newEnv(t)
	rt, err := projection.New(e.store, nil, profileProjV1{})
	require.NoError(t, err)
	ctx := ctxT(t)
	for i, tag := range []string{"red", "green", "blue"} {
		_, err := rt.Apply(ctx, profileEventV1{Key: "ada", Score: int64(10 * (i + 1)), Tag: tag})
		require.NoError(t, err)
	}
	rec, ok, err := e.store.Get(ctx, "test.profile", "ada")
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, os.WriteFile(stateV1File, rec.State, 0o644))
}

// Ensure that a snapshot written by version 1 of a state type, kept as the
// bytes version 1 stored, decodes with version 2 (a field added, one removed,
// one renamed in Go with its msgpack name kept), folds further and is stored
// in the new shape.
func TestRuntime_Read_OldSchemaSnapshotDecodes(t *testing.T) {
	old, err := os.ReadFile(stateV1File)
	require.NoError(t, err)
	e := newEnv(t)
	ctx := ctxT(t)
	require.NoError(t, e.store.Commit(ctx, []store.Write{{
		Bucket: "test.profile", Key: "ada",
		Record: store.Record{Version: 3, UpdatedAt: time.Unix(1700000000, 0), State: old},
	}}))

	rt, err := projection.New(e.store, nil, profileProjV2{})
	require.NoError(t, err)
	snap, err := rt.ReadRequired(ctx, "ada")
	require.NoError(t, err)
	require.Equal(t, uint64(3), snap.Version)
	require.Equal(t, profileV2{Name: "user-ada", Visits: 3, Points: 60, Tags: []string{"red", "green", "blue"}}, snap.State)

	v, err := rt.Apply(ctx, profileEventV2{Key: "ada", Points: 5, Email: "ada@example.org"})
	require.NoError(t, err)
	require.Equal(t, uint64(4), v)
	fresh, err := projection.New(e.store, nil, profileProjV2{})
	require.NoError(t, err)
	snap, err = fresh.ReadRequired(ctx, "ada")
	require.NoError(t, err)
	require.Equal(t, profileV2{
		Name: "user-ada", Visits: 4, Points: 65, Tags: []string{"red", "green", "blue"},
		Email: "ada@example.org", Flags: map[string]bool{"v2": true},
	}, snap.State)

	// And a version 1 reader still reads what version 2 wrote, minus what it
	// does not know.
	back, err := projection.New(e.store, nil, profileProjV1{})
	require.NoError(t, err)
	snap1, err := back.ReadRequired(ctx, "ada")
	require.NoError(t, err)
	require.Equal(t, profileV1{Name: "user-ada", Visits: 4, Score: 65, Tags: []string{"red", "green", "blue"}}, snap1.State)
}

// Ensure that state bytes announcing a huge map or array behind a valid
// checksum (which only a writer that computes checksums can produce) are
// ErrCorrupt and cost a bounded allocation, not the announced 4 G elements:
// the runtime checks every declared length against the bytes that follow
// before it lets msgpack decode.
func TestRuntime_Read_AllocationBombIsBounded(t *testing.T) {
	bombs := [][]byte{
		[]byte("\x82\xa4Tags\xdf\xff\xff\xff\xff\xa5Order\x90"),
		[]byte("\x81\xa5Order\xdd\xff\xff\xff\xff"),
		[]byte("\x81\xa5Order\x91\xdb\xff\xff\xff\xff"),
	}
	for i, state := range bombs {
		path := filepath.Join(t.TempDir(), "bomb.db")
		st := openAt(t, path)
		rt, err := projection.New(st, nil, tags{})
		require.NoError(t, err)
		_, err = rt.Apply(ctxT(t), counterEvent{Key: "k", Delta: 1})
		require.NoError(t, err)
		rt.Close()
		require.NoError(t, st.Close())
		rewriteRaw(t, path, tags{}.Name(), "k", func(v []byte) []byte {
			r, err := boltstore.DecodeRecord(v)
			require.NoError(t, err)
			r.State = state
			return boltstore.EncodeRecord(nil, r)
		})

		st = openAt(t, path)
		rt, err = projection.New(st, nil, tags{})
		require.NoError(t, err)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err = rt.Read(ctxT(t), "k")
		runtime.ReadMemStats(&after)
		requireCorrupt(t, err, tags{}.Name(), "k")
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bomb %d", i)
		rt.Close()
		require.NoError(t, st.Close())
	}
}
