package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	"github.com/livefold/livefold/store"
)

// bbolt's on-disk layout, as far as checkFile reads it (go.etcd.io/bbolt
// internal/common: page.go, meta.go). Every page starts with a 16-byte
// header: id u64, flags u16, count u16, overflow u32. A meta page's body is
// magic u32, version u32, page size u32, flags u32, root bucket (root page
// u64, sequence u64), freelist page u64, high water mark u64, transaction id
// u64 and the FNV-64a checksum u64 of the bytes before it.
const (
	boltPageHeader   = 16
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltMetaSumLen   = 56
	boltFreelistFlag = 0x10
	boltNoFreelist   = ^uint64(0)
)

// boltMeta is what checkFile reads of a valid meta page.
type boltMeta struct {
	pageSize        uint64
	root, freelist  uint64
	highWater, txid uint64
}

// checkFile looks at the bbolt file at path before bbolt maps it, for the
// damage that makes bbolt's Open panic or fault instead of failing: a file
// shorter than its meta page says (truncated), or a freelist page that is
// not one. It returns an error wrapping store.ErrCorrupt for those, and nil
// for a file it cannot judge (empty, or with no valid meta page: bbolt's
// Open reports those itself).
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // bbolt's Open reports it
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil
	}
	size := uint64(fi.Size())
	m, ok := newestMeta(f, size)
	if !ok {
		return nil
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("boltstore: %s: %s: %w", path, fmt.Sprintf(format, args...), store.ErrCorrupt)
	}
	switch {
	case m.highWater < 2 || m.highWater > size/m.pageSize:
		return corrupt("%d bytes hold %d pages of %d bytes, but the meta page (transaction %d) counts %d: the file was truncated",
			size, size/m.pageSize, m.pageSize, m.txid, m.highWater)
	case m.root < 2 || m.root >= m.highWater:
		return corrupt("the root page %d is outside the file's %d pages", m.root, m.highWater)
	case m.freelist == boltNoFreelist:
		return nil
	case m.freelist < 2 || m.freelist >= m.highWater:
		return corrupt("the freelist page %d is outside the file's %d pages", m.freelist, m.highWater)
	}
	var h [boltPageHeader + 8]byte
	if _, err := f.ReadAt(h[:], int64(m.freelist*m.pageSize)); err != nil {
		return corrupt("reading the freelist page %d: %v", m.freelist, err)
	}
	flags := binary.LittleEndian.Uint16(h[8:])
	count := uint64(binary.LittleEndian.Uint16(h[10:]))
	overflow := uint64(binary.LittleEndian.Uint32(h[12:]))
	extra := uint64(0)
	if count == 0xFFFF {
		count, extra = binary.LittleEndian.Uint64(h[boltPageHeader:]), 8
	}
	switch {
	case flags&boltFreelistFlag == 0:
		return corrupt("page %d, which the meta page names as the freelist, is not one (flags %#x)", m.freelist, flags)
	case m.freelist+overflow >= m.highWater:
		return corrupt("the freelist page %d overflows past the file's %d pages", m.freelist, m.highWater)
	case count > ((overflow+1)*m.pageSize-boltPageHeader-extra)/8:
		return corrupt("the freelist page %d claims %d entries, more than its %d pages hold", m.freelist, count, overflow+1)
	}
	return nil
}

// newestMeta returns the valid meta page with the highest transaction id,
// the one bbolt uses, trying the page sizes bbolt tries; ok is false when
// no meta page is valid.
func newestMeta(f io.ReaderAt, size uint64) (m boltMeta, ok bool) {
	read := func(off uint64) (boltMeta, bool) {
		var b [boltPageHeader + boltMetaSumLen + 8]byte
		if _, err := f.ReadAt(b[:], int64(off)); err != nil && !errors.Is(err, io.EOF) {
			return boltMeta{}, false
		}
		p := b[boltPageHeader:]
		h := fnv.New64a()
		h.Write(p[:boltMetaSumLen])
		if binary.LittleEndian.Uint32(p) != boltMagic || binary.LittleEndian.Uint32(p[4:]) != boltVersion ||
			binary.LittleEndian.Uint64(p[boltMetaSumLen:]) != h.Sum64() {
			return boltMeta{}, false
		}
		m := boltMeta{
			pageSize:  uint64(binary.LittleEndian.Uint32(p[8:])),
			root:      binary.LittleEndian.Uint64(p[16:]),
			freelist:  binary.LittleEndian.Uint64(p[32:]),
			highWater: binary.LittleEndian.Uint64(p[40:]),
			txid:      binary.LittleEndian.Uint64(p[48:]),
		}
		return m, m.pageSize >= 1024 && m.pageSize&(m.pageSize-1) == 0
	}
	m0, ok0 := read(0)
	pageSize := m0.pageSize
	if !ok0 {
		// bbolt's getPageSizeFromSecondMeta: page 1 at 1 KiB to 16 MiB.
		for i := range 15 {
			pos := uint64(1024) << i
			if pos+1024 >= size {
				break
			}
			if m1, ok := read(pos); ok && m1.pageSize == pos {
				return m1, true
			}
		}
		return boltMeta{}, false
	}
	m1, ok1 := read(pageSize)
	if ok1 && m1.pageSize == pageSize && m1.txid > m0.txid {
		return m1, true
	}
	return m0, true
}
