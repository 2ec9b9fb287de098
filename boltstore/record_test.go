package boltstore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
)

// Ensure that a record survives encoding and decoding unchanged, with its
// time in UTC at nanosecond precision.
func TestRecord_EncodeDecode_RoundTrip(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	in := store.Record{Version: 7, Stamp: 0xfeed, Lineage: 0xbeef, UpdatedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, loc), Position: 99, State: []byte("state")}
	b := boltstore.EncodeRecord([]byte("prefix"), in)
	if !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatalf("EncodeRecord did not append to dst: %q", b)
	}
	out, err := boltstore.DecodeRecord(b[len("prefix"):])
	if err != nil {
		t.Fatalf("DecodeRecord = %v", err)
	}
	if out.Version != 7 || out.Stamp != 0xfeed || out.Lineage != 0xbeef || out.Position != 99 || string(out.State) != "state" {
		t.Errorf("DecodeRecord = %+v; want %+v", out, in)
	}
	if !out.UpdatedAt.Equal(in.UpdatedAt) || out.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt = %v; want %v in UTC", out.UpdatedAt, in.UpdatedAt)
	}
}

// Ensure that the zero time and an empty state round-trip.
func TestRecord_EncodeDecode_ZeroTimeEmptyState(t *testing.T) {
	out, err := boltstore.DecodeRecord(boltstore.EncodeRecord(nil, store.Record{Version: 1}))
	if err != nil {
		t.Fatalf("DecodeRecord = %v", err)
	}
	if !out.UpdatedAt.IsZero() || len(out.State) != 0 {
		t.Errorf("DecodeRecord = %+v; want zero time and empty state", out)
	}
}

// Ensure that every kind of damage is reported as ErrCorrupt with a reason.
func TestRecord_Decode_Damaged(t *testing.T) {
	valid := boltstore.EncodeRecord(nil, store.Record{Version: 3, Position: 4, State: []byte("hello")})
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	cases := []struct {
		name   string
		b      []byte
		reason string
	}{
		{"nil", nil, "shorter"},
		{"short", valid[:28], "shorter"},
		{"format", mutate(func(b []byte) []byte { b[0] = 3; return b }), "format"},
		{"version bit", mutate(func(b []byte) []byte { b[1] ^= 1; return b }), "checksum"},
		{"state bit", mutate(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), "checksum"},
		{"crc bit", mutate(func(b []byte) []byte { b[42] ^= 1; return b }), "checksum"},
		{"lineage bit", mutate(func(b []byte) []byte { b[17] ^= 1; return b }), "checksum"},
		{"stamp bit", mutate(func(b []byte) []byte { b[9] ^= 1; return b }), "checksum"},
		{"truncated state", valid[:len(valid)-1], "checksum"},
		{"version zero", boltstore.EncodeRecord(nil, store.Record{}), "version 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := boltstore.DecodeRecord(c.b)
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("DecodeRecord = %v; want ErrCorrupt", err)
			}
			var ce *store.CorruptError
			if !errors.As(err, &ce) || !strings.Contains(ce.Reason, c.reason) {
				t.Errorf("DecodeRecord = %v; want a *CorruptError with reason mentioning %q", err, c.reason)
			}
		})
	}
}

// Ensure that the decoded state aliases the input, as documented.
func TestRecord_Decode_StateAliasesInput(t *testing.T) {
	b := boltstore.EncodeRecord(nil, store.Record{Version: 1, State: []byte("abc")})
	r, err := boltstore.DecodeRecord(b)
	if err != nil {
		t.Fatalf("DecodeRecord = %v", err)
	}
	b[len(b)-1] = 'z'
	if string(r.State) != "abz" {
		t.Errorf("State = %q; want it to alias the input (abz)", r.State)
	}
}

// Ensure that a record of format 1, written before records had a stamp, is
// still read, with stamp 0, and that its damage is still detected.
func TestRecord_Decode_Format1(t *testing.T) {
	// format 1, version 5, updated 0, position 9, crc, state "ab"
	b := []byte{1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'a', 'b'}
	crc := crc32.Update(crc32.Update(0, crc32.MakeTable(crc32.Castagnoli), b[:25]), crc32.MakeTable(crc32.Castagnoli), b[29:])
	binary.LittleEndian.PutUint32(b[25:], crc)
	r, err := boltstore.DecodeRecord(b)
	if err != nil {
		t.Fatalf("DecodeRecord(format 1) = %v", err)
	}
	if r.Version != 5 || r.Stamp != 0 || r.Position != 9 || string(r.State) != "ab" || !r.UpdatedAt.IsZero() {
		t.Errorf("DecodeRecord(format 1) = %+v; want version 5, stamp 0, position 9, state ab", r)
	}
	b[len(b)-1] ^= 1
	if _, err := boltstore.DecodeRecord(b); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("DecodeRecord(damaged format 1) = %v; want ErrCorrupt", err)
	}
}
