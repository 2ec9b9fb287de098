package projection

import (
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// wellFormedSamples are encodings of values of every msgpack type.
func wellFormedSamples(t testing.TB) [][]byte {
	values := []any{
		nil, true, false, 0, 1, -1, 127, -32, 128, -33, 1 << 20, -(1 << 40), uint64(1 << 63),
		float32(1.5), 2.5, "", "short", string(make([]byte, 300)), string(make([]byte, 70000)),
		[]byte{}, []byte{1, 2, 3}, make([]byte, 300), make([]byte, 70000),
		[]any{}, []any{1, "a", nil}, make([]int, 20), make([]int, 70000),
		map[string]any{}, map[string]any{"a": 1, "b": []any{map[string]any{"c": true}}},
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		struct {
			A int
			B []string
			C map[string]int
		}{1, []string{"x"}, map[string]int{"y": 2}},
	}
	var out [][]byte
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%T): %v", v, err)
		}
		out = append(out, b)
	}
	return out
}

// Ensure that every well-formed encoding passes and every truncation of one
// fails.
func TestCheckWellFormed_AcceptsValidRejectsTruncated(t *testing.T) {
	for _, b := range wellFormedSamples(t) {
		if err := checkWellFormed(b); err != nil {
			t.Errorf("checkWellFormed(% x...) = %v; want nil", b[:min(len(b), 8)], err)
		}
		for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
			if cut >= len(b) {
				continue
			}
			if err := checkWellFormed(b[:cut]); err == nil {
				t.Errorf("checkWellFormed of %d of %d bytes of % x... = nil; want an error", cut, len(b), b[:min(len(b), 8)])
			}
		}
		if err := checkWellFormed(append(b[:len(b):len(b)], 0)); err == nil {
			t.Errorf("trailing byte accepted after % x...", b[:min(len(b), 8)])
		}
	}
}

// Ensure that headers claiming more than the bytes that follow are refused,
// so the decoder never allocates what a damaged header claims.
func TestCheckWellFormed_RefusesLyingHeaders(t *testing.T) {
	for name, b := range map[string][]byte{
		"array32 of 4G":   {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},
		"map32 of 4G":     {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02},
		"str32 of 4G":     {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},
		"bin32 of 4G":     {0xc6, 0xff, 0xff, 0xff, 0xff, 0},
		"ext32 of 4G":     {0xc9, 0xff, 0xff, 0xff, 0xff, 1, 0},
		"nested arrays":   {0x91, 0x91, 0x91, 0xdd, 0, 0, 0, 9, 1, 2},
		"fixarray of 15":  {0x9f, 1, 2, 3},
		"reserved c1":     {0xc1},
		"map16 odd count": {0xde, 0x00, 0x02, 1, 2, 3},
	} {
		if err := checkWellFormed(b); err == nil {
			t.Errorf("%s: checkWellFormed = nil; want an error", name)
		}
	}
}

// Ensure that whatever passes the check decodes without panicking and
// without allocating much more than its length.
func FuzzCheckWellFormed(f *testing.F) {
	for _, b := range wellFormedSamples(f) {
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkWellFormed(b) != nil {
			return
		}
		var v any
		_ = msgpack.Unmarshal(b, &v) // must not panic
	})
}
