package boltstore

import (
	"fmt"
	"io/fs"

	bolt "go.etcd.io/bbolt"
)

// FrameState says what Open makes of a part of a write-ahead log.
type FrameState int

// The states of the parts of a log, in InspectLog's report.
const (
	// FrameReplay is a frame of commits the file lacks: Open replays it.
	FrameReplay FrameState = iota + 1
	// FrameFolded is a frame a checkpoint already wrote into the file: Open
	// skips it.
	FrameFolded
	// FrameDamaged is bytes that fail their checksum while a valid frame of
	// the same log follows them: one or more acknowledged commits lost to
	// damage. Open refuses the log, unless WithLogSalvage.
	FrameDamaged
	// FrameSalvage is an intact frame after damage: replayed only with
	// WithLogSalvage.
	FrameSalvage
	// FrameTail is the end of the log, which Open ignores: zeros, a frame
	// torn by a crash (never acknowledged), or what older generations of the
	// log left behind.
	FrameTail
	// FrameIgnored is part of a log older than the file's last checkpoint,
	// which Open ignores: everything in it is in the file, or belongs to
	// another history of it.
	FrameIgnored
)

// String returns the state's name as the inspector shows it.
func (s FrameState) String() string {
	switch s {
	case FrameReplay:
		return "replay"
	case FrameFolded:
		return "folded"
	case FrameDamaged:
		return "damaged"
	case FrameSalvage:
		return "salvage"
	case FrameTail:
		return "tail"
	case FrameIgnored:
		return "ignored"
	}
	return fmt.Sprintf("FrameState(%d)", int(s))
}

// LogFrame is one part of a write-ahead log: a frame (one commit), damaged
// bytes, or the tail.
type LogFrame struct {
	Offset int64
	// Size is the frame's length in the log, header and padding included;
	// for damage and the tail, the bytes up to the next frame or the end.
	Size int64
	// Generation is the log generation the frame belongs to, or for damage
	// the generation of the frames around it; 0 for the tail.
	Generation uint64
	State      FrameState
	// Writes are the frame's writes in order. For damage they are what the
	// damaged bytes seem to hold, if their header still parses (nil if not):
	// unverified.
	Writes []LogWrite
}

// LogWrite is one write of a frame.
type LogWrite struct {
	Bucket, Key string
	Delete      bool
	// Version is the record's version; 0 for a delete, or for a record that
	// does not decode.
	Version uint64
}

// LogReport describes one file of the write-ahead log beside a file, as
// InspectLog read it. The log has two files, which take turns (the file's
// path plus "-wal", and plus "-wal2"); Open reads the one that holds the
// generation after the file's last checkpoint first, then the other.
type LogReport struct {
	Path   string // the log file's path
	Size   int64  // its length
	Frames []LogFrame
	// Writes is how many writes Open would replay: those of the frames in
	// FrameReplay, if Err is nil.
	Writes int
	// Err is what Open (and a read-only Open) would return for the log
	// file: nil, an error wrapping store.ErrCorrupt for damage, naming the
	// offset, or one wrapping ErrWrongLog.
	Err error
	// Ignored, when not empty, says why Open ignores the whole log file.
	Ignored string
	// Next describes the log file Open reads after this one, nil when there
	// is none or Open does not get that far (Err is not nil).
	Next *LogReport
}

// InspectLog reads the write-ahead log beside the file at path, without
// writing it or the file, and describes every part of its files, in the
// order Open reads them (the report of the second is the first's Next):
// which frames Open would replay, which are in the file already, what is
// damaged (and which writes the damage cost, as far as it tells), and what
// WithLogSalvage would replay. It is for tools; the application needs only
// Open.
//
// It opens the file read-only for the log's fold point, as WithReadOnly
// does: it fails with ErrLocked while a writer holds the file (options
// other than WithOpenTimeout are ignored). A missing file, or a file
// without either log file beside it, is an error wrapping fs.ErrNotExist.
func InspectLog(path string, opts ...Option) (*LogReport, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	db, err := openBolt(osFS{}, path, &bolt.Options{ReadOnly: true, Timeout: lockTimeout(cfg.openTimeout)}, cfg.openTimeout)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	fp, _, err := loadFoldPoint(db, path)
	if err != nil {
		return nil, err
	}
	plain, perr := scanLogs(osFS{}, path, fp, false, false)
	if len(plain.files) == 0 {
		if perr != nil {
			return nil, perr
		}
		return nil, fmt.Errorf("boltstore: no log beside %s: %w", path, fs.ErrNotExist)
	}
	full, ferr := scanLogs(osFS{}, path, fp, true, true)
	reports := make([]*LogReport, len(plain.files))
	for i, f := range plain.files {
		reports[i] = &LogReport{Path: f.path, Size: f.size, Writes: len(f.writes), Ignored: f.ignored}
		if i < len(full.files) {
			reports[i].Frames = full.files[i].frames
		}
		if i > 0 {
			reports[i-1].Next = reports[i]
		}
	}
	// A scan that fails stops at the file it failed on.
	last := reports[len(reports)-1]
	if perr != nil {
		last.Err, last.Writes = perr, 0
	} else if ferr != nil && len(full.files) == len(reports) {
		last.Err, last.Writes = ferr, 0
	}
	return reports[0], nil
}
