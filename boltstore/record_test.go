package boltstore_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
)

// Ensure that a record survives encoding and decoding unchanged, with its
// time in UTC at nanosecond precision.
func TestRecord_EncodeDecode_RoundTrip(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	in := boltstore.Record{Version: 7, UpdatedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, loc), Position: 99, State: []byte("state")}
	b := boltstore.EncodeRecord([]byte("prefix"), in)
	if !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatalf("EncodeRecord did not append to dst: %q", b)
	}
	out, err := boltstore.DecodeRecord(b[len("prefix"):])
	if err != nil {
		t.Fatalf("DecodeRecord = %v", err)
	}
	if out.Version != 7 || out.Position != 99 || string(out.State) != "state" {
		t.Errorf("DecodeRecord = %+v; want %+v", out, in)
	}
	if !out.UpdatedAt.Equal(in.UpdatedAt) || out.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt = %v; want %v in UTC", out.UpdatedAt, in.UpdatedAt)
	}
}

// Ensure that the zero time and an empty state round-trip.
func TestRecord_EncodeDecode_ZeroTimeEmptyState(t *testing.T) {
	out, err := boltstore.DecodeRecord(boltstore.EncodeRecord(nil, boltstore.Record{Version: 1}))
	if err != nil {
		t.Fatalf("DecodeRecord = %v", err)
	}
	if !out.UpdatedAt.IsZero() || len(out.State) != 0 {
		t.Errorf("DecodeRecord = %+v; want zero time and empty state", out)
	}
}

// Ensure that every kind of damage is reported as ErrCorrupt with a reason.
func TestRecord_Decode_Damaged(t *testing.T) {
	valid := boltstore.EncodeRecord(nil, boltstore.Record{Version: 3, Position: 4, State: []byte("hello")})
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	cases := []struct {
		name   string
		b      []byte
		reason string
	}{
		{"nil", nil, "shorter"},
		{"short", valid[:28], "shorter"},
		{"format", mutate(func(b []byte) []byte { b[0] = 2; return b }), "format"},
		{"version bit", mutate(func(b []byte) []byte { b[1] ^= 1; return b }), "checksum"},
		{"state bit", mutate(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), "checksum"},
		{"crc bit", mutate(func(b []byte) []byte { b[26] ^= 1; return b }), "checksum"},
		{"truncated state", valid[:len(valid)-1], "checksum"},
		{"version zero", boltstore.EncodeRecord(nil, boltstore.Record{}), "version 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := boltstore.DecodeRecord(c.b)
			if !errors.Is(err, boltstore.ErrCorrupt) {
				t.Fatalf("DecodeRecord = %v; want ErrCorrupt", err)
			}
			var ce *boltstore.CorruptError
			if !errors.As(err, &ce) || !strings.Contains(ce.Reason, c.reason) {
				t.Errorf("DecodeRecord = %v; want a *CorruptError with reason mentioning %q", err, c.reason)
			}
		})
	}
}

// Ensure that the decoded state aliases the input, as documented.
func TestRecord_Decode_StateAliasesInput(t *testing.T) {
	b := boltstore.EncodeRecord(nil, boltstore.Record{Version: 1, State: []byte("abc")})
	r, err := boltstore.DecodeRecord(b)
	if err != nil {
		t.Fatalf("DecodeRecord = %v", err)
	}
	b[len(b)-1] = 'z'
	if string(r.State) != "abz" {
		t.Errorf("State = %q; want it to alias the input (abz)", r.State)
	}
}
