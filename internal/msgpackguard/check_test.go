package msgpackguard_test

import (
	"errors"
	"testing"
	"time"

	"github.com/livefold/livefold/internal/msgpackguard"
	"github.com/vmihailenco/msgpack/v5"
)

// lyingHeaders returns msgpack values whose headers claim more than the
// bytes that follow hold, and other malformed encodings, by name.
func lyingHeaders() map[string][]byte {
	return map[string][]byte{
		"array32 of 4G":   {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},
		"array32 of 268M": {0xdd, 0x0f, 0xff, 0xff, 0xff},
		"map32 of 4G":     {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02},
		"str32 of 4G":     {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},
		"bin32 of 4G":     {0xc6, 0xff, 0xff, 0xff, 0xff, 0},
		"ext32 of 4G":     {0xc9, 0xff, 0xff, 0xff, 0xff, 1, 0},
		"nested arrays":   {0x91, 0x91, 0x91, 0xdd, 0, 0, 0, 9, 1, 2},
		"fixarray of 15":  {0x9f, 1, 2, 3},
		"reserved c1":     {0xc1},
		"map16 odd count": {0xde, 0x00, 0x02, 1, 2, 3},
	}
}

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
func TestCheck_AcceptsValidRejectsTruncated(t *testing.T) {
	for _, b := range wellFormedSamples(t) {
		if err := msgpackguard.Check(b); err != nil {
			t.Errorf("Check(% x...) = %v; want nil", b[:min(len(b), 8)], err)
		}
		for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
			if cut >= len(b) {
				continue
			}
			if err := msgpackguard.Check(b[:cut]); !errors.Is(err, msgpackguard.ErrMalformed) {
				t.Errorf("Check of %d of %d bytes of % x... = %v; want ErrMalformed", cut, len(b), b[:min(len(b), 8)], err)
			}
		}
		if err := msgpackguard.Check(append(b[:len(b):len(b)], 0)); !errors.Is(err, msgpackguard.ErrMalformed) {
			t.Errorf("Check with a trailing byte after % x... = %v; want ErrMalformed", b[:min(len(b), 8)], err)
		}
	}
}

// Ensure that headers claiming more than the bytes that follow are refused,
// so the decoder never allocates what a damaged header claims.
func TestCheck_RefusesLyingHeaders(t *testing.T) {
	for name, b := range lyingHeaders() {
		if err := msgpackguard.Check(b); !errors.Is(err, msgpackguard.ErrMalformed) {
			t.Errorf("%s: Check = %v; want ErrMalformed", name, err)
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
		if msgpackguard.Check(b) != nil {
			return
		}
		var v any
		_ = msgpack.Unmarshal(b, &v) // must not panic
	})
}
