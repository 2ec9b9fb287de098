package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"

	"github.com/livefold/livefold/store"
)

// frameHeader is a frame's header as read from the log.
type frameHeader struct {
	fileID, gen uint64
	base        uint32
	n           int    // payload length
	crc         uint32 // the stored checksum
	size        int64  // bytes the frame takes, padding included
}

// frameAt returns the frame at off if it is whole and its checksum holds.
func frameAt(data []byte, off int64) (frameHeader, bool) {
	if off < 0 || int64(len(data))-off < walHeaderSize {
		return frameHeader{}, false
	}
	h := data[off : off+walHeaderSize]
	if binary.LittleEndian.Uint32(h) != walMagic {
		return frameHeader{}, false
	}
	fh := frameHeader{
		fileID: binary.LittleEndian.Uint64(h[4:]),
		gen:    binary.LittleEndian.Uint64(h[12:]),
		base:   binary.LittleEndian.Uint32(h[20:]),
		crc:    binary.LittleEndian.Uint32(h[28:]),
	}
	n := uint64(binary.LittleEndian.Uint32(h[24:]))
	if n > uint64(int64(len(data))-off-walHeaderSize) {
		return frameHeader{}, false
	}
	fh.n = int(n)
	fh.size = min(frameSize(fh.n), int64(len(data))-off)
	payload := data[off+walHeaderSize : off+walHeaderSize+int64(fh.n)]
	if frameCRC(h[4:28], payload) != fh.crc {
		return frameHeader{}, false
	}
	return fh, true
}

// generation names the frames of one generation of one file's log; base 0
// with anyBase matches every base.
type generation struct {
	fileID, gen uint64
	base        uint32
	anyBase     bool
}

func (g generation) has(h frameHeader) bool {
	return h.fileID == g.fileID && h.gen == g.gen && (g.anyBase || h.base == g.base)
}

// nextFrame returns the offset of the first valid frame of g at a frame
// boundary (a multiple of walAlign) at or after from, or -1.
func nextFrame(data []byte, from int64, g generation) int64 {
	magic := binary.LittleEndian.AppendUint32(nil, walMagic)
	off := (from + walAlign - 1) &^ (walAlign - 1)
	for off < int64(len(data)) {
		i := bytes.Index(data[off:], magic)
		if i < 0 {
			return -1
		}
		at := off + int64(i)
		if at%walAlign == 0 {
			if h, ok := frameAt(data, at); ok && g.has(h) {
				return at
			}
		}
		off = at + 1
	}
	return -1
}

// logScan is what scanLog found in a log.
type logScan struct {
	// writes are the writes to replay, in log order, from frames of
	// generation gen; end is the offset after the last of those frames and
	// last its checksum. The file's fold point after replaying them is
	// {fileID, gen, end, last}.
	writes []walWrite
	gen    uint64
	end    int64
	last   uint32
	// ignored says why a log with frames was not replayed at all: it is
	// older than the file's last checkpoint.
	ignored string
	// damaged lists the damage WithLogSalvage skipped.
	damaged []LogFrame
	// frames describes the whole log, for InspectLog (with detail only).
	frames []LogFrame
}

// scanner reads one log against the file's fold point.
type scanner struct {
	path    string
	data    []byte
	fp      foldPoint
	salvage bool // replay the intact frames around damage instead of refusing
	detail  bool // describe every frame in logScan.frames
	sc      logScan
}

// scanLog reads the log at path, whose contents are data, for the file whose
// fold point is fp, and returns what Open replays. It refuses a log of
// another file or of another history of this one (ErrWrongLog), and a log
// with damage before the last of its frames (store.ErrCorrupt, naming the
// offset); with salvage it replays the intact frames around damage instead.
// A log older than the file's last checkpoint is ignored.
func scanLog(path string, data []byte, fp foldPoint, salvage, detail bool) (logScan, error) {
	s := &scanner{path: path, data: data, fp: fp, salvage: salvage, detail: detail}
	err := s.scan()
	return s.sc, err
}

func (s *scanner) scan() error {
	data, fp := s.data, s.fp
	if len(data) >= 4 && binary.LittleEndian.Uint32(data) == walMagicV1 {
		return fmt.Errorf("%w: %s was written by a version of livefold whose log frames do not name their file; "+
			"open the file with that version and Close it, which folds the log in", ErrWrongLog, s.path)
	}
	next := generation{fileID: fp.fileID, gen: fp.gen + 1, base: fp.sum()}
	folded := generation{fileID: fp.fileID, gen: fp.gen, anyBase: true}
	h, ok := frameAt(data, 0)
	switch {
	case !ok:
		// An empty log, or the first frame of the next generation torn by
		// a crash. A valid frame of the next generation after it, or of
		// the folded one past the fold point, would mean the start is
		// damaged.
		if at := nextFrame(data, 0, next); at >= 0 {
			return s.damage(0, at, next)
		}
		if fp.gen > 0 {
			if at := nextFrame(data, fp.end, folded); at >= 0 {
				fh, _ := frameAt(data, at)
				folded.base, folded.anyBase = fh.base, false
				return s.damage(0, at, folded)
			}
		}
		s.tail(0)
		return nil
	case h.fileID != fp.fileID:
		return s.wrong("belongs to another file (its frames name file %016x, the file is %016x)", h.fileID, fp.fileID)
	case next.has(h):
		return s.replay(0, next)
	case h.gen == fp.gen && fp.gen > 0:
		return s.continued(generation{fileID: fp.fileID, gen: fp.gen, base: h.base})
	case h.gen < fp.gen:
		return s.ignore(fmt.Sprintf("its generation %d is older than the file's last checkpoint, of generation %d", h.gen, fp.gen))
	case h.gen == next.gen:
		return s.wrong("starts from another state of the file than the file is in")
	default:
		return s.wrong("is of generation %d, newer than the file's next, %d: the file is older than its log (restored from an older copy?)",
			h.gen, next.gen)
	}
}

// continued handles a log of the generation the file folded last, g: its
// frames up to the fold point are in the file, and frames after it, written
// after a checkpoint that was reported failed yet reached the disk, are
// replayed.
func (s *scanner) continued(g generation) error {
	fp := s.fp
	off := int64(0)
	var last uint32
	for off < fp.end {
		h, ok := frameAt(s.data, off)
		if !ok || !g.has(h) {
			break
		}
		s.describe(off, h, FrameFolded)
		off += h.size
		last = h.crc
	}
	switch {
	case off == fp.end && last == fp.last:
		return s.replay(off, g)
	case off >= fp.end:
		return s.wrong("is not the log whose frames up to offset %d the file holds", fp.end)
	}
	// The frames stop before the fold point, where the file holds them all:
	// damage there is harmless. It is what a crash leaves when the next
	// generation's first frame was torn over them (its header did not reach
	// the disk, some of its other sectors did), or a copy of the log from
	// before the checkpoint. Only frames of the generation after the fold
	// point matter: from one right there the log goes on; one further on
	// means damage between.
	if h, ok := frameAt(s.data, fp.end); ok && g.has(h) {
		return s.replay(fp.end, g)
	}
	if at := nextFrame(s.data, fp.end, g); at >= 0 {
		return s.damage(fp.end, at, g)
	}
	return s.ignore(fmt.Sprintf("its frames up to offset %d are in the file, and no frame of it follows", fp.end))
}

// replay walks the frames of g from off, collecting their writes, until a
// frame that does not hold; a frame of g after that one means damage.
func (s *scanner) replay(off int64, g generation) error {
	for {
		h, ok := frameAt(s.data, off)
		if !ok || !g.has(h) {
			break
		}
		payload := s.data[off+walHeaderSize : off+walHeaderSize+int64(h.n)]
		n := len(s.sc.writes)
		var err error
		if s.sc.writes, err = parsePayload(s.sc.writes, payload); err != nil {
			return fmt.Errorf("boltstore: log %s: frame at offset %d: its checksum holds but %v: %w",
				s.path, off, err, store.ErrCorrupt)
		}
		state := FrameReplay
		if len(s.sc.damaged) > 0 {
			state = FrameSalvage
		}
		s.describeWrites(off, h, state, s.sc.writes[n:])
		s.sc.gen, s.sc.end, s.sc.last = g.gen, off+h.size, h.crc
		off += h.size
	}
	if at := nextFrame(s.data, off, g); at >= 0 {
		return s.damage(off, at, g)
	}
	s.tail(off)
	return nil
}

// damage handles the bytes [off, at) that fail their checksum before a valid
// frame of g at at: without salvage Open refuses the log; with it, the
// frames from at on are replayed.
func (s *scanner) damage(off, at int64, g generation) error {
	d := LogFrame{Offset: off, Size: at - off, Generation: g.gen, State: FrameDamaged, Writes: s.damagedWrites(off, at)}
	s.sc.damaged = append(s.sc.damaged, d)
	if s.detail {
		s.sc.frames = append(s.sc.frames, d)
	}
	if !s.salvage {
		return fmt.Errorf("boltstore: log %s is damaged at offset %d: %d bytes there fail their checksum and a frame of the "+
			"same log follows at offset %d, so commits after the damage were acknowledged; nothing was replayed and the "+
			"log is as it was (WithLogSalvage replays its intact frames): %w", s.path, off, at-off, at, store.ErrCorrupt)
	}
	if s.fp.gen == g.gen && at < s.fp.end {
		// A log of the folded generation: what precedes the fold point is
		// in the file already.
		for at < s.fp.end {
			h, ok := frameAt(s.data, at)
			if !ok || !g.has(h) {
				break
			}
			s.describe(at, h, FrameFolded)
			at += h.size
		}
		if at != s.fp.end {
			return s.wrong("is not the log whose frames up to offset %d the file holds", s.fp.end)
		}
	}
	return s.replay(at, g)
}

// damagedWrites returns the writes a damaged frame at off seems to hold, if
// its header still parses and its payload fits before at: what was lost, as
// far as the damaged bytes tell.
func (s *scanner) damagedWrites(off, at int64) []LogWrite {
	if at-off < walHeaderSize || binary.LittleEndian.Uint32(s.data[off:]) != walMagic {
		return nil
	}
	n := int64(binary.LittleEndian.Uint32(s.data[off+24:]))
	if off+walHeaderSize+n > at {
		return nil
	}
	writes, err := parsePayload(nil, s.data[off+walHeaderSize:off+walHeaderSize+n])
	if err != nil {
		return nil
	}
	return logWrites(writes)
}

// tail records the end of the log from off: zeros, a frame torn by a crash,
// or what older generations left.
func (s *scanner) tail(off int64) {
	if s.detail && off < int64(len(s.data)) {
		s.sc.frames = append(s.sc.frames, LogFrame{Offset: off, Size: int64(len(s.data)) - off, State: FrameTail})
	}
}

// ignore records that the log is older than the file's last checkpoint.
func (s *scanner) ignore(why string) error {
	s.sc.ignored = why
	s.sc.writes, s.sc.gen = nil, 0
	if s.detail {
		for i := range s.sc.frames {
			s.sc.frames[i].State = FrameIgnored
		}
		end := int64(0)
		if n := len(s.sc.frames); n > 0 {
			end = s.sc.frames[n-1].Offset + s.sc.frames[n-1].Size
		}
		s.sc.frames = append(s.sc.frames, LogFrame{Offset: end, Size: int64(len(s.data)) - end, State: FrameIgnored})
	}
	return nil
}

// wrong refuses a log that belongs to another file or history.
func (s *scanner) wrong(format string, args ...any) error {
	if s.detail {
		s.sc.frames = s.sc.frames[:0]
		off := int64(0)
		for {
			h, ok := frameAt(s.data, off)
			if !ok {
				break
			}
			s.describe(off, h, FrameIgnored)
			off += h.size
		}
		s.tail(off)
	}
	return fmt.Errorf("%w: %s %s; it was not replayed and is as it was", ErrWrongLog, s.path, fmt.Sprintf(format, args...))
}

func (s *scanner) describe(off int64, h frameHeader, state FrameState) {
	if s.detail {
		s.describeWrites(off, h, state, nil)
	}
}

func (s *scanner) describeWrites(off int64, h frameHeader, state FrameState, writes []walWrite) {
	if !s.detail {
		return
	}
	if writes == nil {
		writes, _ = parsePayload(nil, s.data[off+walHeaderSize:off+walHeaderSize+int64(h.n)])
	}
	s.sc.frames = append(s.sc.frames, LogFrame{Offset: off, Size: h.size, Generation: h.gen, State: state, Writes: logWrites(writes)})
}

func logWrites(writes []walWrite) []LogWrite {
	out := make([]LogWrite, 0, len(writes))
	for _, w := range writes {
		lw := LogWrite{Bucket: w.bucket, Key: w.key, Delete: w.delete}
		if !w.delete {
			if r, err := DecodeRecord(w.value); err == nil {
				lw.Version = r.Version
			}
		}
		out = append(out, lw)
	}
	return out
}

// logFileScan is what scanLogs found in one log file.
type logFileScan struct {
	path string
	size int64
	logScan
}

// logsScan is what scanLogs found in the two log files beside a file.
type logsScan struct {
	// writes are the writes to replay, in order; fp is the file's fold
	// point once it holds them.
	writes []walWrite
	fp     foldPoint
	// files are the files read, in the order Open reads them; found says
	// whether any exists.
	files []logFileScan
	found bool
}

// scanLogs reads the log files beside the file at dbPath, whose fold point
// is fp, in the order their generations follow one another, and returns
// what Open replays; see scanLog for what it refuses. The file of the
// generation after fp's comes first; the other, scanned against the fold
// point the file has once the first is replayed, holds the generation
// after that one, or older ones the file holds already. A file that does
// not exist holds nothing. With detail, every file read is described in
// files even when an error is returned.
func scanLogs(fsys fileSystem, dbPath string, fp foldPoint, salvage, detail bool) (logsScan, error) {
	res := logsScan{fp: fp}
	for i, gen := range []uint64{fp.gen + 1, fp.gen + 2} {
		path := logPath(dbPath, gen)
		data, err := fsys.readFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("boltstore: read log %s: %w", path, err)
		}
		res.found = true
		if i == 1 && len(res.writes) == 0 {
			// The second generation follows the first only once the
			// first was complete and synced: without it, the first file
			// lost it.
			if h, ok := frameAt(data, 0); ok && h.fileID == fp.fileID && h.gen == gen {
				return res, fmt.Errorf("boltstore: log %s holds generation %d, but %s does not hold generation %d, "+
					"which comes before it: that log is damaged or missing; nothing was replayed and the logs are as they were: %w",
					path, gen, logPath(dbPath, gen-1), gen-1, store.ErrCorrupt)
			}
		}
		sc, err := scanLog(path, data, res.fp, salvage, detail)
		res.files = append(res.files, logFileScan{path: path, size: int64(len(data)), logScan: sc})
		if err != nil {
			return res, err
		}
		if len(sc.writes) > 0 {
			res.writes = append(res.writes, sc.writes...)
			res.fp = foldPoint{fileID: fp.fileID, gen: sc.gen, end: sc.end, last: sc.last}
		}
	}
	return res, nil
}
