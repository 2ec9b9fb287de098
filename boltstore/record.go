package boltstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/livefold/livefold/store"
)

// store.Record format on disk; see the package documentation. Format 1 has no
// stamp; it is still read (as stamp 0), never written.
const (
	formatV1     = 1
	formatV2     = 2
	headerLenV1  = 1 + 8 + 8 + 8 + 4         // format, version, updated, position, crc
	headerLen    = 1 + 8 + 8 + 8 + 8 + 8 + 4 // format, version, stamp, lineage, updated, position, crc
	offVersion   = 1
	offStamp     = 9
	offLineage   = 17
	offUpdatedAt = 25
	offPosition  = 33
	offCRC       = 41
)

// zeroTime is how format 2 stores the zero time.Time: the one instant of
// int64 nanoseconds that store.ValidTime refuses.
const zeroTime = math.MinInt64

// castagnoli is read-only after package initialisation; crc32.MakeTable
// returns the shared hardware-accelerated table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeRecord appends the on-disk encoding of r to dst and returns the
// extended slice. It does not validate r (Submit does); encoding a Version of
// 0 produces bytes DecodeRecord rejects.
func EncodeRecord(dst []byte, r store.Record) []byte {
	nanos := int64(zeroTime)
	if !r.UpdatedAt.IsZero() {
		nanos = r.UpdatedAt.UnixNano()
	}
	start := len(dst)
	dst = append(dst, formatV2)
	dst = binary.LittleEndian.AppendUint64(dst, r.Version)
	dst = binary.LittleEndian.AppendUint64(dst, r.Stamp)
	dst = binary.LittleEndian.AppendUint64(dst, r.Lineage)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(nanos))
	dst = binary.LittleEndian.AppendUint64(dst, r.Position)
	dst = append(dst, 0, 0, 0, 0)
	dst = append(dst, r.State...)
	rec := dst[start:]
	binary.LittleEndian.PutUint32(rec[offCRC:], checksum(rec, offCRC))
	return dst
}

// DecodeRecord verifies b (length, format byte, checksum, non-zero version)
// before reading any field, and returns an error satisfying
// errors.Is(err, store.ErrCorrupt) (a *store.CorruptError without Bucket and
// Key) on any damage. It never panics and never allocates beyond the error.
//
// The returned store.Record.State aliases b: it is valid only as long as b is, and
// modifying one modifies the other. An empty state decodes as an empty,
// non-nil slice when b is non-nil.
func DecodeRecord(b []byte) (store.Record, error) {
	if len(b) == 0 {
		return store.Record{}, &store.CorruptError{Reason: fmt.Sprintf("record of 0 bytes is shorter than the %d-byte header", headerLen)}
	}
	// Field offsets of format 1: no stamp and no lineage, so everything
	// after the version sits 16 bytes earlier.
	hl, shift := headerLen, 0
	switch b[0] {
	case formatV2:
	case formatV1:
		hl, shift = headerLenV1, 16
	default:
		return store.Record{}, &store.CorruptError{Reason: fmt.Sprintf("unknown record format byte %d (want %d)", b[0], formatV2)}
	}
	if len(b) < hl {
		return store.Record{}, &store.CorruptError{Reason: fmt.Sprintf("record of %d bytes is shorter than the %d-byte header", len(b), hl)}
	}
	crcAt := offCRC - shift
	if got, want := binary.LittleEndian.Uint32(b[crcAt:]), checksum(b, crcAt); got != want {
		return store.Record{}, &store.CorruptError{Reason: fmt.Sprintf("checksum mismatch: stored %08x, computed %08x", got, want)}
	}
	r := store.Record{
		Version:  binary.LittleEndian.Uint64(b[offVersion:]),
		Position: binary.LittleEndian.Uint64(b[offPosition-shift:]),
		State:    b[hl:],
	}
	if shift == 0 {
		r.Stamp = binary.LittleEndian.Uint64(b[offStamp:])
		r.Lineage = binary.LittleEndian.Uint64(b[offLineage:])
	}
	if r.Version == 0 {
		return store.Record{}, &store.CorruptError{Reason: "record has version 0"}
	}
	// Format 1 stored the zero time as 0, which also stands for the Unix
	// epoch; format 2 gives the zero time a value of its own.
	zero := int64(zeroTime)
	if shift != 0 {
		zero = 0
	}
	if nanos := int64(binary.LittleEndian.Uint64(b[offUpdatedAt-shift:])); nanos != zero {
		r.UpdatedAt = time.Unix(0, nanos).UTC()
	}
	return r, nil
}

// checksum is CRC-32C over the whole encoded record except the 4 CRC bytes
// at crcAt.
func checksum(rec []byte, crcAt int) uint32 {
	c := crc32.Update(0, castagnoli, rec[:crcAt])
	return crc32.Update(c, castagnoli, rec[crcAt+4:])
}
