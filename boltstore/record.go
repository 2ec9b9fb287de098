package boltstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// Record is one stored snapshot.
type Record struct {
	// Version is the snapshot version (number of events folded). It is never
	// 0 for a stored record: Submit rejects 0 and DecodeRecord treats it as
	// damage.
	Version uint64
	// UpdatedAt is stored as int64 Unix nanoseconds and returned in UTC. The
	// zero time.Time is stored as 0 and decoded as the zero time.Time, so the
	// exact instant 1970-01-01T00:00:00Z also reads back as the zero value.
	UpdatedAt time.Time
	// Position is the source stream position of the last folded event
	// (0 = none); the runtime uses it for de-duplication.
	Position uint64
	// State is the encoded state, opaque to this package.
	State []byte
}

// Record format on disk; see the package documentation.
const (
	formatV1     = 1
	headerLen    = 1 + 8 + 8 + 8 + 4 // format, version, updated, position, crc
	offVersion   = 1
	offUpdatedAt = 9
	offPosition  = 17
	offCRC       = 25
)

// castagnoli is read-only after package initialisation; crc32.MakeTable
// returns the shared hardware-accelerated table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeRecord appends the on-disk encoding of r to dst and returns the
// extended slice. It does not validate r (Submit does); encoding a Version of
// 0 produces bytes DecodeRecord rejects.
func EncodeRecord(dst []byte, r Record) []byte {
	var nanos int64
	if !r.UpdatedAt.IsZero() {
		nanos = r.UpdatedAt.UnixNano()
	}
	start := len(dst)
	dst = append(dst, formatV1)
	dst = binary.LittleEndian.AppendUint64(dst, r.Version)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(nanos))
	dst = binary.LittleEndian.AppendUint64(dst, r.Position)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, r.State...)
	rec := dst[start:]
	binary.LittleEndian.PutUint32(rec[offCRC:], checksum(rec))
	return dst
}

// DecodeRecord verifies b (length, format byte, checksum, non-zero version)
// before reading any field, and returns an error satisfying
// errors.Is(err, ErrCorrupt) (a *CorruptError without Bucket and Key) on any
// damage. It never panics and never allocates beyond the error.
//
// The returned Record.State aliases b: it is valid only as long as b is, and
// modifying one modifies the other. An empty state decodes as an empty,
// non-nil slice when b is non-nil.
func DecodeRecord(b []byte) (Record, error) {
	if len(b) < headerLen {
		return Record{}, &CorruptError{Reason: fmt.Sprintf("record of %d bytes is shorter than the %d-byte header", len(b), headerLen)}
	}
	if b[0] != formatV1 {
		return Record{}, &CorruptError{Reason: fmt.Sprintf("unknown record format byte %d (want %d)", b[0], formatV1)}
	}
	if got, want := binary.LittleEndian.Uint32(b[offCRC:]), checksum(b); got != want {
		return Record{}, &CorruptError{Reason: fmt.Sprintf("checksum mismatch: stored %08x, computed %08x", got, want)}
	}
	r := Record{
		Version:  binary.LittleEndian.Uint64(b[offVersion:]),
		Position: binary.LittleEndian.Uint64(b[offPosition:]),
		State:    b[headerLen:],
	}
	if r.Version == 0 {
		return Record{}, &CorruptError{Reason: "record has version 0"}
	}
	if nanos := int64(binary.LittleEndian.Uint64(b[offUpdatedAt:])); nanos != 0 {
		r.UpdatedAt = time.Unix(0, nanos).UTC()
	}
	return r, nil
}

// checksum is CRC-32C over the whole encoded record except the 4 CRC bytes.
func checksum(rec []byte) uint32 {
	c := crc32.Update(0, castagnoli, rec[:offCRC])
	return crc32.Update(c, castagnoli, rec[headerLen:])
}

// validTime reports whether t survives the int64-nanosecond encoding.
func validTime(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	return !t.Before(time.Unix(0, math.MinInt64)) && !t.After(time.Unix(0, math.MaxInt64))
}
