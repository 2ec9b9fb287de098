package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/livefold/livefold/store"
)

// The write-ahead log makes a commit one sequential write and one fdatasync
// of the batch's records, instead of a bbolt transaction that rewrites every
// B+tree page the batch touches and syncs twice. Committed records live in
// the log and in memory (the overlay) until a checkpoint writes them into
// the bbolt file in one large transaction, while the log goes on in its
// other file.
//
// A frame is a header, a payload and zeros up to a multiple of 8 bytes:
//
//	offset  size  field
//	0       4     magic "LFW2"
//	4       8     file ID: the fold point's, so a log names its file
//	12      8     generation: one more than the file's fold point's
//	20      4     base: the fold point's sum when the generation started
//	24      4     payload length n
//	28      4     CRC-32C of bytes [4,28) and the payload
//	32      n     payload: writes, each: delete u8 | bucket length u8 |
//	              key length u16 | value length u32 | bucket | key | value
//
// all little-endian, where a value is an encoded store.Record. A generation's
// frames are written back to back from offset 0 of the log file of its
// parity (logPath); a checkpoint starts the next generation in the other
// file, which it overwrites from offset 0 once the file holds what it held,
// and what is left of older generations after the new frames is recognised
// by their generation and ignored. Nothing is written when a generation
// starts: the checkpoint's transaction records in the file that the old one
// is folded (foldPoint).
//
// Open replays the frames of the generations the file lacks in order, the
// log file of the one after the fold point first (logscan.go).
// A frame that fails its checksum ends the log only when no frame of the
// generation follows it: that is a tail torn by a crash, never
// acknowledged. A valid frame after it means damage, and Open refuses.
const (
	walMagic = 0x3257464c // "LFW2" read as little-endian bytes
	// walMagicV1 began the frames of logs written before frames named their
	// file; Open refuses such a log rather than guess what it belongs to.
	walMagicV1    = 0x3157464c // "LFW1"
	walHeaderSize = 32
	walAlign      = 8
	walWriteHead  = 8
	// DefaultWALSize is the log size at which a checkpoint folds the log
	// into the bbolt file when WithWALSize is not given.
	DefaultWALSize = 4 << 20
)

// wal is the log: two files, which take turns. The frames of a generation
// go to the file of its parity (logPath), so a checkpoint starts the next
// generation in the other file at once and folds the one it froze into the
// database file while commits go on: the frozen file is written again only
// two generations later, once the file holds it. It is used by the
// committer goroutine, which lends it to the syncer for each frame, and by
// Open and Close before and after they run.
type wal struct {
	fs fileSystem
	// files and paths are the two files, by the parity of the generations
	// they hold; f and path are those of the generation written now.
	files  [2]logFile
	paths  [2]string
	f      logFile
	path   string
	noSync bool
	fileID uint64
	gen    uint64 // generation of the frames written now
	base   uint32 // their base
	off    int64  // where the next frame goes
	last   uint32 // checksum of the frame before off; 0 at offset 0
	// dirty says a failed append may have left a complete frame at off,
	// which a crash would replay although its batch was reported failed: it
	// is erased, and the erasure synced, before anything else is appended
	// or folded.
	dirty bool
	// fault counts and logs a failed write or sync of the log.
	fault func(op string, err error)
}

// walWrite is one write read back from a frame.
type walWrite struct {
	bucket, key string
	delete      bool
	value       []byte
}

// walPath is the log file of the odd generations, the first of a new file
// among them: the one a log had to itself before logs took turns, and the
// one Open reads first after a crash of a store that never checkpointed.
func walPath(dbPath string) string { return dbPath + "-wal" }

// logPath returns the file that holds the frames of generation gen.
func logPath(dbPath string, gen uint64) string {
	if gen%2 == 1 {
		return walPath(dbPath)
	}
	return dbPath + "-wal2"
}

// openWAL opens the two log files beside the file for appending the
// generation that follows fp, creating them if they do not exist, and fills
// each with zeros up to prealloc bytes. What existing files hold was read,
// and replayed, before. The caller syncs the directory before a frame is
// acknowledged.
func openWAL(fsys fileSystem, dbPath string, noSync bool, prealloc int, fp foldPoint, fault func(string, error)) (*wal, error) {
	w := &wal{fs: fsys, noSync: noSync, fault: fault}
	for i := range w.files {
		path := logPath(dbPath, uint64(i))
		f, err := fsys.openFile(path, os.O_RDWR|os.O_CREATE)
		if err == nil {
			w.files[i], w.paths[i] = f, path
			err = w.preallocate(i, int64(prealloc))
		}
		if err != nil {
			w.close()
			return nil, fmt.Errorf("boltstore: open log %s: %w", path, err)
		}
	}
	w.folded(fp)
	return w, nil
}

// preallocate writes zeros to log file i from its end up to size and syncs
// them. A sync after overwriting blocks that are already written costs about
// half of one after an append, which must also record the file's new size
// and blocks; zeros read as the end of the log.
func (w *wal) preallocate(i int, size int64) error {
	f := w.files[i]
	from, err := f.size()
	if err != nil || from >= size {
		return err
	}
	zeros := make([]byte, min(size-from, 1<<20))
	for off := from; off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			w.fault("preallocate", err)
			return fmt.Errorf("preallocate: %w", err)
		}
	}
	if w.noSync {
		return nil
	}
	if err := f.sync(); err != nil {
		w.fault("preallocate", err)
		return fmt.Errorf("preallocate: sync: %w", err)
	}
	return nil
}

// close closes the log files that are open.
func (w *wal) close() {
	for _, f := range w.files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// folded starts the generation that follows fp: the file holds everything
// logged before, so new frames overwrite the log from its start. Nothing is
// written. A checkpoint folds only a clean log (see clean): a frame that a
// failed append left valid at the old end would read, after a crash that
// tore the new generation's first frame, as damage.
func (w *wal) folded(fp foldPoint) {
	w.fileID = fp.fileID
	w.gen = fp.gen + 1
	w.base = fp.sum()
	w.off = 0
	w.last = 0
	w.f, w.path = w.files[w.gen%2], w.paths[w.gen%2]
}

// foldPoint is what the file records when a checkpoint folds everything
// logged so far.
func (w *wal) foldPoint() foldPoint {
	return foldPoint{fileID: w.fileID, gen: w.gen, end: w.off, last: w.last}
}

// parsePayload appends the writes of one frame's payload to writes.
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

func frameCRC(fields, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, fields)
	return crc32.Update(c, castagnoli, payload)
}

// newFrame returns an empty frame with room for its header, payload bytes
// and padding.
func newFrame(payload int) []byte {
	return make([]byte, walHeaderSize, walHeaderSize+payload+walAlign)
}

// frameSize is the bytes a frame with an n-byte payload takes in the log.
func frameSize(n int) int64 {
	return (walHeaderSize + int64(n) + walAlign - 1) &^ (walAlign - 1)
}

// seal pads frame (built by newFrame and appendWALWrite) to its size in the
// log and writes its header for the current generation. It returns the
// frame, which append then writes.
func (w *wal) seal(frame []byte) []byte {
	n := len(frame) - walHeaderSize
	for int64(len(frame)) < frameSize(n) {
		frame = append(frame, 0)
	}
	h := frame[:walHeaderSize]
	binary.LittleEndian.PutUint32(h, walMagic)
	binary.LittleEndian.PutUint64(h[4:], w.fileID)
	binary.LittleEndian.PutUint64(h[12:], w.gen)
	binary.LittleEndian.PutUint32(h[20:], w.base)
	binary.LittleEndian.PutUint32(h[24:], uint32(n))
	binary.LittleEndian.PutUint32(h[28:], frameCRC(h[4:28], frame[walHeaderSize:walHeaderSize+n]))
	return frame
}

// append writes a sealed frame at the end of the log and syncs it. On error
// nothing is acknowledged and the frame will be erased.
func (w *wal) append(frame []byte) error {
	if err := w.clean(); err != nil {
		return err
	}
	if _, err := w.f.WriteAt(frame, w.off); err != nil {
		w.failed("append", err)
		return fmt.Errorf("write log: %w", err)
	}
	if err := w.sync(); err != nil {
		w.failed("append", err)
		return err
	}
	w.off += int64(len(frame))
	w.last = binary.LittleEndian.Uint32(frame[28:])
	return nil
}

// failed handles an append that failed after writing part or all of its
// frame: the frame is erased at once if the disk allows, else before
// anything else is appended or folded. A crash before either leaves the
// frame to be replayed, although its batch was reported failed: the window
// an fsync error leaves in any log. No commit is acknowledged within it.
func (w *wal) failed(op string, err error) {
	w.fault(op, err)
	w.dirty = true
	_ = w.clean()
}

// clean erases what a failed append may have left at the end of the log,
// if it may have left anything: it overwrites the header there and syncs.
// After a failed sync nothing written since the last good one can be
// trusted, whether on the disk or in the page cache (Linux may drop dirty
// pages after reporting a failed fsync, and report the next one as
// successful), so the erasure is written anew each time.
func (w *wal) clean() error {
	if !w.dirty {
		return nil
	}
	var zero [walHeaderSize]byte
	if _, err := w.f.WriteAt(zero[:], w.off); err != nil {
		w.fault("erase", err)
		return fmt.Errorf("clear log tail: %w", err)
	}
	if err := w.sync(); err != nil {
		w.fault("erase", err)
		return fmt.Errorf("clear log tail: %w", err)
	}
	w.dirty = false
	return nil
}

func (w *wal) sync() error {
	if w.noSync {
		return nil
	}
	if err := w.f.sync(); err != nil {
		return fmt.Errorf("sync log: %w", err)
	}
	return nil
}

// remove deletes the log files after a clean shutdown folded them into the
// file. A log that comes back after a power loss (its removal was not
// durable yet, or the platform cannot make it so) is of a generation the
// file says is folded, and is never replayed.
func (w *wal) remove() error {
	for i, f := range w.files {
		if err := f.Close(); err != nil {
			return fmt.Errorf("boltstore: close log %s: %w", w.paths[i], err)
		}
	}
	for _, path := range w.paths {
		if err := w.fs.remove(path); err != nil {
			return fmt.Errorf("boltstore: remove log %s: %w", path, err)
		}
	}
	if w.noSync {
		return nil
	}
	return w.fs.syncDir(filepath.Dir(w.paths[0]))
}
