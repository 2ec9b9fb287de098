package projection_test

import (
	"slices"
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// Ensure that tools can read which generation of a projection is current,
// and tell a later generation's bucket from a projection's name.
func TestReadGenerations(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	g, err := projection.ReadGenerations(ctx, e.store, "test.revised")
	require.NoError(t, err)
	require.Equal(t, projection.Generations{Bucket: "test.revised"}, g, "a projection never rebuilt")

	rt, err := projection.New(e.store, nil, revised{counter: counter{name: "test.revised"}, rev: "r7"})
	require.NoError(t, err)
	defer rt.Close()
	require.NoError(t, rt.RebuildAll(ctx, slices.Values([]counterEvent{{Delta: 1}})))
	g, err = projection.ReadGenerations(ctx, e.store, "test.revised")
	require.NoError(t, err)
	require.Equal(t, uint64(1), g.Current)
	require.Equal(t, "r7", g.Revision)
	require.Zero(t, g.Building)
	name, n, ok := projection.GenerationOf(g.Bucket)
	require.True(t, ok)
	require.Equal(t, "test.revised", name)
	require.Equal(t, uint64(1), n)
	for _, b := range []string{"test.revised", "a #0", "a #01", "a #x", " #1", "a#1"} {
		_, _, ok := projection.GenerationOf(b)
		require.False(t, ok, "%q is no later generation's bucket", b)
	}
}
