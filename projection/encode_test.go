package projection_test

import (
	"sync/atomic"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// encodes counts listState encodings; each test that reads it runs alone.
var encodes atomic.Int64

// listState holds a slice, as most real states do, and counts its encodings.
type listState struct{ Items []int64 }

func (s *listState) EncodeMsgpack(enc *msgpack.Encoder) error {
	encodes.Add(1)
	return enc.Encode(s.Items)
}

func (s *listState) DecodeMsgpack(dec *msgpack.Decoder) error { return dec.Decode(&s.Items) }

type lists struct{}

func (lists) Name() string              { return "test.lists" }
func (lists) Key(e counterEvent) string { return e.Key }
func (lists) Apply(s *listState, e counterEvent) int64 {
	s.Items = append(s.Items, e.Delta)
	return e.Delta
}

// Ensure that an apply encodes its state once when nobody subscribes, and
// that a subscriber, once there, gets states of its own.
func TestRuntime_Apply_OneEncodeWithoutSubscribers(t *testing.T) {
	e := newEnv(t)
	rt, err := projection.New(e.store, e.bus, lists{})
	require.NoError(t, err)
	ctx := ctxT(t)
	encodes.Store(0)
	for i := range 10 {
		_, err := rt.Apply(ctx, counterEvent{Key: "k", Delta: int64(i)})
		require.NoError(t, err)
	}
	require.Equal(t, int64(10), encodes.Load(), "one encode per apply")

	sub, err := rt.Subscribe(ctx, "k")
	require.NoError(t, err)
	defer sub.Close()
	_, err = rt.Apply(ctx, counterEvent{Key: "k", Delta: 10})
	require.NoError(t, err)
	u := next(t, sub)
	require.Equal(t, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, u.State.Items)
	u.State.Items[0] = 99 // a subscriber's copy is its own
	snap, err := rt.ReadRequired(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, int64(0), snap.State.Items[0])
}
