package boltstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"

	"github.com/livefold/livefold/store"

	bolt "go.etcd.io/bbolt"
)

// metaBucket holds the Store's own records in the file. Its name is not
// valid UTF-8, so no projection can have it (store.CheckName), and reads
// leave it out.
const metaBucket = "\xffboltstore"

// foldKey is the key of the fold point in metaBucket.
var foldKey = []byte("log")

// foldPoint is the file's record of its write-ahead log: the identity of
// the file, which every frame of its logs carries, and the last frame a
// checkpoint folded into it. A checkpoint writes it in the transaction that
// writes the records, so the file always says how far it holds the log:
//
//   - The frames of generation gen up to offset end are in the file, and the
//     frame that ends there has the checksum last. A log of that generation
//     that goes on past end (after a checkpoint that was reported failed yet
//     reached the disk) is replayed from end, provided its frame ending
//     there has that checksum; otherwise it is another history's.
//   - The next generation's frames carry sum() as their base: a log whose
//     frames start from another state of the file is not replayed.
//
// Generations only grow, so a log older than the file's last checkpoint is
// recognised and never replayed over newer records.
type foldPoint struct {
	fileID uint64 // random, never 0
	gen    uint64 // generation of the log folded last; 0 before any
	end    int64  // offset after the last frame folded
	last   uint32 // checksum of that frame
}

// oddNext returns p or, when the generation after p is even, the fold point
// of an empty generation after p: the file holds the same, and the next
// generation is odd. Open's replay and a clean Close record it, so that a
// store's log starts in walPath after either; a log turns to its other file
// only after a checkpoint of its own.
func (p foldPoint) oddNext() foldPoint {
	if p.gen%2 == 0 {
		return p
	}
	return foldPoint{fileID: p.fileID, gen: p.gen + 1}
}

// foldPointLen is the size of an encoded fold point: a format byte, the four
// fields and a CRC-32C of the bytes before it.
const foldPointLen = 1 + 8 + 8 + 8 + 4 + 4

func newFoldPoint() foldPoint {
	id := rand.Uint64()
	for id == 0 {
		id = rand.Uint64()
	}
	return foldPoint{fileID: id}
}

func (p foldPoint) encode() []byte {
	b := make([]byte, 0, foldPointLen)
	b = append(b, 1)
	b = binary.LittleEndian.AppendUint64(b, p.fileID)
	b = binary.LittleEndian.AppendUint64(b, p.gen)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.end))
	b = binary.LittleEndian.AppendUint32(b, p.last)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// sum is the base of the generation that follows p: a checksum of all of
// p, so that it changes with every checkpoint.
func (p foldPoint) sum() uint32 {
	b := p.encode()
	return binary.LittleEndian.Uint32(b[foldPointLen-4:])
}

func decodeFoldPoint(b []byte) (foldPoint, error) {
	if len(b) != foldPointLen || b[0] != 1 ||
		crc32.Checksum(b[:foldPointLen-4], castagnoli) != binary.LittleEndian.Uint32(b[foldPointLen-4:]) {
		return foldPoint{}, fmt.Errorf("the file's record of its log (%d bytes) is damaged: %w", len(b), store.ErrCorrupt)
	}
	p := foldPoint{
		fileID: binary.LittleEndian.Uint64(b[1:]),
		gen:    binary.LittleEndian.Uint64(b[9:]),
		end:    int64(binary.LittleEndian.Uint64(b[17:])),
		last:   binary.LittleEndian.Uint32(b[25:]),
	}
	if p.fileID == 0 || p.end < 0 {
		return foldPoint{}, fmt.Errorf("the file's record of its log is invalid: %w", store.ErrCorrupt)
	}
	return p, nil
}

// readFoldPoint returns the fold point of the file tx reads; found is false
// for a file that has none (created by bbolt alone, or by a livefold that
// predates it).
func readFoldPoint(tx *bolt.Tx) (p foldPoint, found bool, err error) {
	b := tx.Bucket([]byte(metaBucket))
	if b == nil {
		return foldPoint{}, false, nil
	}
	v := b.Get(foldKey)
	if v == nil {
		return foldPoint{}, false, nil
	}
	p, err = decodeFoldPoint(v)
	return p, err == nil, err
}

// putFoldPoint writes p into the file in tx.
func putFoldPoint(tx *bolt.Tx, p foldPoint) error {
	b, err := tx.CreateBucketIfNotExists([]byte(metaBucket))
	if err != nil {
		return err
	}
	return b.Put(foldKey, p.encode())
}
