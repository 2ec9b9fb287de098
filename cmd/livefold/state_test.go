package main

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Ensure that decodeState turns every msgpack value a Go state can encode to
// into JSON that marshals, as doc.go describes.
func TestDecodeState_ConvertsToJSON(t *testing.T) {
	type inner struct {
		B []byte
		T time.Time
	}
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"struct", struct {
			A int
			S string
		}{1, "x"}, `{"A":1,"S":"x"}`},
		{"tagged struct", struct {
			A int `msgpack:"a"`
		}{2}, `{"a":2}`},
		{"int keys", map[int]string{1: "a", -2: "b"}, `{"-2":"b","1":"a"}`},
		{"bool keys", map[bool]int{true: 1}, `{"true":1}`},
		{"nested", map[string]any{"m": map[uint8]bool{7: true}, "l": []any{1, "x", nil}}, `{"l":[1,"x",null],"m":{"7":true}}`},
		{"bytes and time", inner{B: []byte("hi"), T: time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))},
			`{"B":"aGk=","T":"2025-01-02T02:04:05.000000006Z"}`},
		{"floats", []float64{1.5, math.NaN(), math.Inf(1), math.Inf(-1)}, `[1.5,"NaN","+Inf","-Inf"]`},
		{"float32", []float32{0.25, float32(math.Inf(-1))}, `[0.25,"-Inf"]`},
		{"big uint", uint64(math.MaxUint64), `18446744073709551615`},
		{"nil", nil, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := msgpack.Marshal(tc.in)
			if err != nil {
				t.Fatalf("msgpack.Marshal: %v", err)
			}
			v, err := decodeState(b)
			if err != nil {
				t.Fatalf("decodeState(%x) = %v", b, err)
			}
			got, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("json.Marshal(%#v) = %v", v, err)
			}
			if string(got) != tc.want {
				t.Errorf("decodeState = %s; want %s", got, tc.want)
			}
		})
	}
}

// Ensure that decodeState rejects bytes that are not one msgpack value,
// without panicking.
func TestDecodeState_RejectsInvalid(t *testing.T) {
	for name, b := range map[string][]byte{
		"never used code": {0xc1},
		"truncated":       {0x92, 0x01},
		"trailing bytes":  {0x01, 0x02},
		"unknown ext":     {0xd4, 0x42, 0x00},
		"array as key":    {0x81, 0x91, 0x01, 0x02},
	} {
		if v, err := decodeState(b); err == nil {
			t.Errorf("%s: decodeState(%x) = %#v, nil; want an error", name, b, v)
		}
	}
	if v, err := decodeState(nil); v != nil || err != nil {
		t.Errorf("decodeState(nil) = %#v, %v; want nil, nil", v, err)
	}
}
