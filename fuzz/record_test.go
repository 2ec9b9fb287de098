package fuzz

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
)

// FuzzDecodeRecord feeds arbitrary bytes to boltstore.DecodeRecord. It must
// never panic; every failure must be ErrCorrupt; and whatever it accepts must
// re-encode to exactly the input, so that no two byte strings decode to the
// same record and no damaged byte goes unnoticed.
func FuzzDecodeRecord(f *testing.F) {
	valid := boltstore.EncodeRecord(nil, boltstore.Record{
		Version: 3, UpdatedAt: time.Unix(1700000000, 5), Position: 42, State: []byte("\x82\xa1a\x01\xa1b\xa2hi"),
	})
	f.Add(valid)
	f.Add(boltstore.EncodeRecord(nil, boltstore.Record{Version: 1}))
	f.Add(boltstore.EncodeRecord(nil, boltstore.Record{Version: ^uint64(0), UpdatedAt: time.Unix(0, -1), Position: ^uint64(0)}))
	f.Add([]byte{})
	f.Add(valid[:28])
	flipped := bytes.Clone(valid)
	flipped[len(flipped)-1] ^= 0x40
	f.Add(flipped)
	format := bytes.Clone(valid)
	format[0] = 2
	f.Add(format)

	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		r, err := boltstore.DecodeRecord(b)
		if !bytes.Equal(in, b) {
			t.Fatal("DecodeRecord modified its input")
		}
		if err != nil {
			if !errors.Is(err, boltstore.ErrCorrupt) {
				t.Fatalf("DecodeRecord = %v; want ErrCorrupt", err)
			}
			return
		}
		if r.Version == 0 {
			t.Fatal("DecodeRecord accepted version 0")
		}
		if !r.UpdatedAt.IsZero() && r.UpdatedAt.Location() != time.UTC {
			t.Fatalf("UpdatedAt %v not in UTC", r.UpdatedAt)
		}
		if out := boltstore.EncodeRecord(nil, r); !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, out)
		}
	})
}
