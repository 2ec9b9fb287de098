package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/livefold/livefold/store"
)

// The write-ahead log makes a commit one sequential write and one fdatasync
// of the batch's records, instead of a bbolt transaction that rewrites every
// B+tree page the batch touches and syncs twice. Committed records live in
// the log and in memory (the overlay) until a checkpoint writes them into
// the bbolt file in one large transaction and the log starts over.
//
// A frame is a header and a payload:
//
//	magic u32 | generation u64 | payload length u32 | CRC-32C u32 of the generation, length and payload
//	payload: writes, each: delete u8 | bucket length u8 | key length u16 | value length u32 | bucket | key | value
//
// all little-endian, where a value is an encoded store.Record. Frames are written
// back to back from offset 0; after a checkpoint the log is rewritten from
// offset 0 under a new random generation, so leftovers of older frames stop a
// replay: recovery reads frames while their magic, CRC and generation hold and
// stops at the first that does not, which is where a crash tore a frame that
// was never acknowledged.
const (
	walMagic      = 0x3157464c // "LFW1" read as little-endian bytes
	walHeaderSize = 20
	walWriteHead  = 8
	// DefaultWALSize is the log size at which a checkpoint folds the log
	// into the bbolt file when WithWALSize is not given.
	DefaultWALSize = 4 << 20
)

// wal is the log file. It is used by the committer goroutine only, and by
// Open and Close before and after it runs.
type wal struct {
	f      *os.File
	path   string
	noSync bool
	gen    uint64 // generation of the frames written now
	off    int64  // where the next frame goes
	// dirty says a failed append may have left a complete frame at off,
	// which a crash would replay although its batch was reported failed: it
	// is overwritten before anything else is appended.
	dirty bool
}

// walWrite is one write read back from a frame.
type walWrite struct {
	bucket, key string
	delete      bool
	value       []byte
}

func walPath(dbPath string) string { return dbPath + "-wal" }

// openWAL opens or creates the log beside the database and returns the writes
// of its valid frames, in order, for the caller to fold into the database
// before anything is appended. The file is filled with zeros up to prealloc
// bytes.
func openWAL(dbPath string, noSync bool, prealloc int) (*wal, []walWrite, error) {
	path := walPath(dbPath)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, nil, fmt.Errorf("boltstore: open log %s: %w", path, err)
	}
	w := &wal{f: f, path: path, noSync: noSync, gen: rand.Uint64()}
	if errors.Is(statErr, os.ErrNotExist) && !noSync {
		// The new file's directory entry must be durable before a frame in
		// it is acknowledged.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("boltstore: read log %s: %w", path, err)
	}
	writes, err := parseWAL(data)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("boltstore: log %s: %w", path, err)
	}
	if len(data) < prealloc {
		if err := w.preallocate(int64(len(data)), int64(prealloc)); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	return w, writes, nil
}

// preallocate writes zeros to the log from `from` up to size and syncs them.
// A sync after overwriting blocks that are already written costs about half
// of one after an append, which must also record the file's new size and
// blocks; zeros read as the end of the log.
func (w *wal) preallocate(from, size int64) error {
	zeros := make([]byte, min(size-from, 1<<20))
	for off := from; off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := w.f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("boltstore: preallocate log %s: %w", w.path, err)
		}
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("boltstore: preallocate log %s: %w", w.path, err)
	}
	return nil
}

// parseWAL returns the writes of the valid frames at the start of data. A
// frame whose header or checksum does not hold ends the log; a frame whose
// checksum holds but whose payload does not parse is corruption this package
// cannot have written, and an error.
func parseWAL(data []byte) ([]walWrite, error) {
	var writes []walWrite
	var gen uint64
	for off := 0; len(data)-off >= walHeaderSize; {
		h := data[off : off+walHeaderSize]
		if binary.LittleEndian.Uint32(h) != walMagic {
			break
		}
		g := binary.LittleEndian.Uint64(h[4:])
		n64 := uint64(binary.LittleEndian.Uint32(h[12:]))
		if off == 0 {
			gen = g
		}
		if g != gen || n64 > uint64(len(data)-off-walHeaderSize) {
			break
		}
		n := int(n64)
		payload := data[off+walHeaderSize : off+walHeaderSize+n]
		if frameCRC(h[4:16], payload) != binary.LittleEndian.Uint32(h[16:]) {
			break
		}
		var err error
		if writes, err = parsePayload(writes, payload); err != nil {
			return nil, fmt.Errorf("%w: frame at offset %d: %w", store.ErrCorrupt, off, err)
		}
		off += walHeaderSize + n
	}
	return writes, nil
}

func parsePayload(writes []walWrite, p []byte) ([]walWrite, error) {
	for len(p) > 0 {
		if len(p) < walWriteHead {
			return nil, errors.New("truncated write header")
		}
		del := p[0] == 1
		bl, kl, vl := uint64(p[1]), uint64(binary.LittleEndian.Uint16(p[2:])), uint64(binary.LittleEndian.Uint32(p[4:]))
		p = p[walWriteHead:]
		if bl+kl+vl > uint64(len(p)) || bl == 0 || kl == 0 {
			return nil, errors.New("write lengths exceed the frame")
		}
		writes = append(writes, walWrite{
			bucket: string(p[:bl]),
			key:    string(p[bl : bl+kl]),
			delete: del,
			value:  p[bl+kl : bl+kl+vl : bl+kl+vl],
		})
		p = p[bl+kl+vl:]
	}
	return writes, nil
}

// appendWALWrite appends one write to a frame being built; the value comes
// last, so it can be encoded in place afterwards. It returns the frame.
func appendWALWrite(frame []byte, w *store.Write, valueLen int) []byte {
	var del byte
	if w.Delete {
		del = 1
	}
	frame = append(frame, del, byte(len(w.Bucket)), 0, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint16(frame[len(frame)-6:], uint16(len(w.Key)))
	binary.LittleEndian.PutUint32(frame[len(frame)-4:], uint32(valueLen))
	frame = append(frame, w.Bucket...)
	return append(frame, w.Key...)
}

func frameCRC(genAndLen, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, genAndLen)
	return crc32.Update(c, castagnoli, payload)
}

// newFrame returns an empty frame with room for its header.
func newFrame(capacity int) []byte {
	return make([]byte, walHeaderSize, max(capacity, walHeaderSize))
}

// append writes frame (built by newFrame and appendWALWrite) at the end of the
// log and syncs it. On error nothing is acknowledged and the frame will be
// overwritten.
func (w *wal) append(frame []byte) error {
	if w.dirty {
		if err := w.invalidate(); err != nil {
			return err
		}
	}
	h := frame[:walHeaderSize]
	binary.LittleEndian.PutUint32(h, walMagic)
	binary.LittleEndian.PutUint64(h[4:], w.gen)
	binary.LittleEndian.PutUint32(h[12:], uint32(len(frame)-walHeaderSize))
	binary.LittleEndian.PutUint32(h[16:], frameCRC(h[4:16], frame[walHeaderSize:]))
	if _, err := w.f.WriteAt(frame, w.off); err != nil {
		w.failed()
		return fmt.Errorf("write log: %w", err)
	}
	if err := w.sync(); err != nil {
		w.failed()
		return err
	}
	w.off += int64(len(frame))
	return nil
}

// failed handles an append that failed after writing part or all of its
// frame: the frame is erased at once if the disk allows, else before the next
// append. A crash before either leaves the frame to be replayed, although its
// batch was reported failed: the window an fsync error leaves in any log.
func (w *wal) failed() {
	w.dirty = true
	_ = w.invalidate()
}

// invalidate overwrites the header at the end of the log, so that a frame a
// failed append may have left there is never replayed.
func (w *wal) invalidate() error {
	var zero [walHeaderSize]byte
	if _, err := w.f.WriteAt(zero[:], w.off); err != nil {
		return fmt.Errorf("clear log tail: %w", err)
	}
	if err := w.sync(); err != nil {
		return err
	}
	w.dirty = false
	return nil
}

func (w *wal) sync() error {
	if w.noSync {
		return nil
	}
	if err := fdatasync(w.f); err != nil {
		return fmt.Errorf("sync log: %w", err)
	}
	return nil
}

// restart makes the log empty after its frames were folded into the
// database: new frames overwrite it from the start under a new generation,
// which keeps the file's size and so spares each sync a metadata update.
//
// The first header is erased, and synced, before any new frame: otherwise a
// crash that tore the new first frame could leave the old first frame
// readable, and a replay of it alone would take the keys of the old frames
// after it back to older values.
func (w *wal) restart() error {
	var zero [walHeaderSize]byte
	if _, err := w.f.WriteAt(zero[:], 0); err != nil {
		return fmt.Errorf("restart log: %w", err)
	}
	if err := w.sync(); err != nil {
		return fmt.Errorf("restart log: %w", err)
	}
	w.off = 0
	w.dirty = false
	w.gen = rand.Uint64()
	return nil
}

// remove deletes the log after a clean shutdown folded it into the database.
func (w *wal) remove() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("boltstore: close log %s: %w", w.path, err)
	}
	if err := os.Remove(w.path); err != nil {
		return fmt.Errorf("boltstore: remove log %s: %w", w.path, err)
	}
	if w.noSync {
		return nil
	}
	// Durably gone: a log that came back after a power loss would be
	// replayed over newer records.
	return syncDir(filepath.Dir(w.path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("boltstore: open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("boltstore: sync directory %s: %w", dir, err)
	}
	return nil
}
