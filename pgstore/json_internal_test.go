package pgstore

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Ensure that jsonView never panics on any bytes, and that whatever view it
// gives is valid JSON that jsonb accepts (no U+0000) within maxJSONBytes.
func FuzzJSONView(f *testing.F) {
	for _, v := range []any{
		nil, true, int64(-1), uint64(math.MaxUint64), 1.25, float32(2.5), "s\x00\xff", []byte{1},
		[]any{1, "a", []any{}}, map[string]any{"a": map[int]any{1: nil}},
		time.Unix(1<<40, 7),
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add(bytes.Repeat([]byte{0x91}, 200))
	f.Fuzz(func(t *testing.T, b []byte) {
		view, ok := jsonView(b)
		if !ok {
			return
		}
		if !json.Valid(view) {
			t.Fatalf("jsonView(%x) = %q, not valid JSON", b, view)
		}
		if bytes.Contains(view, []byte(`\u0000`)) || len(view) > maxJSONBytes {
			t.Fatalf("jsonView(%x) = %q: holds U+0000 or exceeds %d bytes", b, view, maxJSONBytes)
		}
	})
}

// Ensure that the view of a JSON-shaped value, read back by encoding/json,
// is the value itself.
func TestJSONView_RoundTripsJSONValues(t *testing.T) {
	for _, v := range []any{
		nil, true, 1.5, "é\n", []any{1.0, "x"}, map[string]any{"a": []any{}, "b": map[string]any{"c": false}},
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		view, ok := jsonView(b)
		if !ok {
			t.Errorf("jsonView(msgpack of %v) has no view", v)
			continue
		}
		var got any
		if err := json.Unmarshal(view, &got); err != nil {
			t.Errorf("jsonView(msgpack of %v) = %q: %v", v, view, err)
			continue
		}
		want, _ := json.Marshal(v)
		gotJSON, _ := json.Marshal(got)
		if !bytes.Equal(gotJSON, want) {
			t.Errorf("jsonView(msgpack of %v) reads back as %s; want %s", v, gotJSON, want)
		}
	}
}
