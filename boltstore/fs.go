package boltstore

import (
	"fmt"
	"io"
	"os"
)

// fileSystem is every file operation a Store makes on its directory, the log
// and the bbolt file: few enough to list, so that tests can record them,
// build from the record what a power cut would have left, and inject
// failures. Production uses osFS.
//
// bbolt writes its file through its own *os.File, which no interface can
// stand in for; bolt brackets every call that may make it write, so that a
// recording file system can see what the call changed.
type fileSystem interface {
	// openFile opens name with flag (os.O_* flags) and mode fileMode.
	openFile(name string, flag int) (logFile, error)
	// readFile returns the contents of name.
	readFile(name string) ([]byte, error)
	// remove deletes name.
	remove(name string) error
	// link gives the file oldname the new name newname, failing with an error
	// wrapping fs.ErrExist when newname exists.
	link(oldname, newname string) error
	// syncDir makes the directory entries of dir durable, as far as the
	// platform can (see syncDir).
	syncDir(dir string) error
	// bolt runs fn, which opens the bbolt file at path or commits one of its
	// write transactions, and returns fn's error.
	bolt(path string, fn func() error) error
}

// logFile is an open file of a fileSystem: the log, or a file being created.
type logFile interface {
	io.ReaderAt
	WriteAt(p []byte, off int64) (int, error)
	// size returns the file's length.
	size() (int64, error)
	// sync makes the file's data durable (see fdatasync).
	sync() error
	Close() error
}

// osFS is the fileSystem of the operating system.
type osFS struct{}

func (osFS) openFile(name string, flag int) (logFile, error) {
	f, err := os.OpenFile(name, flag, fileMode)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) readFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (osFS) remove(name string) error { return os.Remove(name) }

func (osFS) link(oldname, newname string) error {
	err := os.Link(oldname, newname)
	if err == nil || os.IsExist(err) {
		return err
	}
	// A file system without hard links (FAT, some network shares): rename,
	// which replaces newname where it exists, so look first. Two processes
	// creating the same file at once there may both succeed; elsewhere the
	// link decides.
	if _, statErr := os.Lstat(newname); statErr == nil {
		return fmt.Errorf("%w: %s", os.ErrExist, newname)
	}
	return os.Rename(oldname, newname)
}

func (osFS) syncDir(dir string) error { return syncDir(dir) }

func (osFS) bolt(_ string, fn func() error) error { return fn() }

// osFile is an *os.File as a logFile.
type osFile struct{ *os.File }

func (f osFile) size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (f osFile) sync() error { return fdatasync(f.File) }
