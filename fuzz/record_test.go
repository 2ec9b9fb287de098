package fuzz

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/livefold/livefold/store"

	"github.com/livefold/livefold/boltstore"
)

// FuzzDecodeRecord feeds arbitrary bytes to boltstore.DecodeRecord. It must
// never panic; every failure must be ErrCorrupt; and whatever it accepts must
// re-encode to exactly the input, so that no two byte strings decode to the
// same record and no damaged byte goes unnoticed.
func FuzzDecodeRecord(f *testing.F) {
	valid := boltstore.EncodeRecord(nil, store.Record{
		Version: 3, UpdatedAt: time.Unix(1700000000, 5), Position: 42, State: []byte("\x82\xa1a\x01\xa1b\xa2hi"),
	})
	f.Add(valid)
	f.Add(boltstore.EncodeRecord(nil, store.Record{Version: 1}))
	f.Add(boltstore.EncodeRecord(nil, store.Record{Version: ^uint64(0), UpdatedAt: time.Unix(0, -1), Position: ^uint64(0)}))
	f.Add([]byte{})
	f.Add(valid[:28])
	flipped := bytes.Clone(valid)
	flipped[len(flipped)-1] ^= 0x40
	f.Add(flipped)
	format := bytes.Clone(valid)
	format[0] = 3
	f.Add(format)

	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		r, err := boltstore.DecodeRecord(b)
		if !bytes.Equal(in, b) {
			t.Fatal("DecodeRecord modified its input")
		}
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
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
		out := boltstore.EncodeRecord(nil, r)
		if b[0] == 1 {
			// Format 1 is read but never written: it re-encodes as the
			// current format, which must read back as the same record.
			again, err := boltstore.DecodeRecord(out)
			if err != nil || again.Version != r.Version || again.Stamp != r.Stamp || again.Lineage != r.Lineage || again.Position != r.Position ||
				!again.UpdatedAt.Equal(r.UpdatedAt) || !bytes.Equal(again.State, r.State) {
				t.Fatalf("format 1 record %+v re-encoded reads back as %+v, %v", r, again, err)
			}
			return
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, out)
		}
	})
}
