package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// This file is the recording half of the power-loss simulation
// (powerloss_test.go): crashFS passes every operation of a Store to the
// operating system and records the writes, syncs and directory changes it
// makes, and crashModel replays the record to build what a power cut at any
// moment could have left on the disk.
//
// The log, the directory and the creation of files go through crashFS as
// they happen. bbolt writes its file through an *os.File of its own, so its
// writes are recorded as what changed in the file across each call that may
// write it (fileSystem.bolt), in bbolt's order: a new file's first pages in
// one write and one fdatasync (DB.init); for a commit, the file's growth,
// synced first (DB.grow: truncate and fsync), then the changed pages other
// than the meta pages and an fdatasync (Tx.write), then the meta page and an
// fdatasync (Tx.writeMeta).

// crashPageSize is bbolt's page size in these tests, where the file is
// created on a machine with 4 KiB memory pages.
const crashPageSize = 4096

// sectorSize is the unit a torn write is torn in: a disk writes a sector
// whole or not at all.
const sectorSize = 512

// errInjected is the failure crashFS injects at a chosen sync point.
var errInjected = errors.New("injected sync failure")

type evKind int

const (
	evCreate   evKind = iota // name gets the new file inode
	evLink                   // name gets the file inode
	evRemove                 // name is removed
	evSyncDir                // the directory's entries are made durable (ok) or the sync failed
	evWrite                  // data written to inode at off
	evTruncate               // inode's length set to size
	evSync                   // inode's writes made durable (ok) or the sync failed
	evMark                   // a workload event: mark indexes the workload's marks
	evRebase                 // the workload crashed here and went on from image
)

// event is one recorded operation.
type event struct {
	kind  evKind
	name  string
	inode int
	off   int64
	data  []byte
	ok    bool
	mark  int
	image *crashImage
}

// crashFS is the recording fileSystem. Operations on paths outside its
// current directory (those of a store the workload abandoned in a crash)
// go to the operating system unrecorded.
type crashFS struct {
	// mu guards every field below: the Store's goroutines, Open and Close record
	// operations, and the workload's callbacks record marks, on their own
	// goroutines.
	mu     sync.Mutex
	dir    string
	names  map[string]int // the directory as it is now: name -> inode
	inodes int            // inodes created so far
	events []event
	// syncPoints counts the syncs so far: of a log file, of the directory,
	// and bbolt's commits; those in fail fail.
	syncPoints int
	fail       map[int]bool
	failedAt   int // index in events of the first injected failure, -1 before
	// cache is every recorded file's contents as the record says they are
	// now; bolt compares it with the file bbolt finds, and a difference
	// (a write the record missed) is kept in diverged.
	cache    map[int][]byte
	diverged error
	// beforeSync, when set, is called at every sync of a recorded file,
	// before it counts as a sync point and without mu held: a test holds a
	// sync in flight in it. beforeBolt is called likewise before every
	// recorded call of bbolt.
	beforeSync, beforeBolt func()
}

func newCrashFS(dir string) *crashFS {
	return &crashFS{dir: dir, names: map[string]int{}, fail: map[int]bool{}, failedAt: -1, cache: map[int][]byte{}}
}

// local returns the name of path in the current directory, or false for a
// path elsewhere.
func (c *crashFS) local(path string) (string, bool) {
	dir, name := filepath.Split(path)
	return name, filepath.Clean(dir) == c.dir
}

func (c *crashFS) recordLocked(e event) int {
	c.events = append(c.events, e)
	switch e.kind {
	case evCreate:
		c.cache[e.inode] = nil
	case evWrite:
		c.cache[e.inode] = applyOp(c.cache[e.inode], e.off, e.data, false)
	case evTruncate:
		c.cache[e.inode] = applyOp(c.cache[e.inode], e.off, nil, true)
	}
	return len(c.events) - 1
}

// syncPointLocked counts one sync point and says whether it is to fail.
func (c *crashFS) syncPointLocked() bool {
	c.syncPoints++
	return c.fail[c.syncPoints]
}

// failedLocked notes that the event at i is an injected failure.
func (c *crashFS) failedLocked(i int) {
	if c.failedAt < 0 {
		c.failedAt = i
	}
}

// failNext makes the next n sync points fail.
func (c *crashFS) failNext(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range n {
		c.fail[c.syncPoints+1+i] = true
	}
}

// onBolt makes fn the beforeBolt hook (nil: none).
func (c *crashFS) onBolt(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.beforeBolt = fn
}

// onSync makes fn the beforeSync hook (nil: none).
func (c *crashFS) onSync(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.beforeSync = fn
}

// mark records a workload event and returns its index in events.
func (c *crashFS) mark(m int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recordLocked(event{kind: evMark, mark: m})
}

func (c *crashFS) openFile(path string, flag int) (logFile, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name, local := c.local(path)
	_, existed := c.names[name]
	f, err := os.OpenFile(path, flag, fileMode)
	if err != nil || !local {
		if err != nil {
			return nil, err
		}
		return &crashFile{fs: c, f: f, inode: -1}, nil
	}
	if !existed {
		if flag&os.O_CREATE == 0 {
			f.Close()
			return nil, fmt.Errorf("crashFS: %s exists on disk but not in the record", path)
		}
		c.inodes++
		c.names[name] = c.inodes
		c.recordLocked(event{kind: evCreate, name: name, inode: c.inodes})
	}
	if flag&os.O_TRUNC != 0 {
		c.recordLocked(event{kind: evTruncate, inode: c.names[name]})
	}
	return &crashFile{fs: c, f: f, inode: c.names[name], dir: c.dir}, nil
}

func (c *crashFS) readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func (c *crashFS) remove(path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.Remove(path); err != nil {
		return err
	}
	if name, local := c.local(path); local {
		delete(c.names, name)
		c.recordLocked(event{kind: evRemove, name: name})
	}
	return nil
}

func (c *crashFS) link(oldpath, newpath string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	oldName, local := c.local(oldpath)
	newName, _ := c.local(newpath)
	if local {
		c.names[newName] = c.names[oldName]
		c.recordLocked(event{kind: evLink, name: newName, inode: c.names[oldName]})
	}
	return nil
}

func (c *crashFS) syncDir(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if filepath.Clean(dir) != c.dir {
		return nil
	}
	if c.syncPointLocked() {
		c.failedLocked(c.recordLocked(event{kind: evSyncDir, ok: false}))
		return errInjected
	}
	c.recordLocked(event{kind: evSyncDir, ok: true})
	return nil
}

// bolt records what fn changed in the bbolt file, in bbolt's order (see
// the top of this file). At the sync point chosen to fail it lets fn commit,
// then records the meta page's sync as failed and returns errInjected: a
// commit whose last fdatasync failed after bbolt made it visible.
//
// A checkpoint runs beside the commits, so the log's writes during fn are
// recorded before bbolt's: the record then misses some moments a power cut
// could hit (the file's new state durable, the log's write not yet) but
// holds none that could not happen. A call that began before the workload
// crashed and went on in another directory records nothing.
func (c *crashFS) bolt(path string, fn func() error) error {
	c.mu.Lock()
	name, local := c.local(path)
	dir, hook := c.dir, c.beforeBolt
	c.mu.Unlock()
	if !local {
		return fn()
	}
	if hook != nil {
		hook()
	}
	before, _ := os.ReadFile(path)
	err := fn()
	after, rerr := os.ReadFile(path)
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != dir {
		return err
	}
	ino, ok := c.names[name]
	if !ok {
		return fmt.Errorf("crashFS: bbolt wrote %s, which is not in the record", path)
	}
	if !bytes.Equal(c.cache[ino], before) && c.diverged == nil {
		c.diverged = fmt.Errorf("crashFS: %s holds %d bytes before a bbolt call; the record says %d, or other bytes",
			path, len(before), len(c.cache[ino]))
	}
	if bytes.Equal(before, after) {
		return err
	}
	if len(before) == 0 {
		c.recordLocked(event{kind: evWrite, inode: ino, data: after})
		c.recordLocked(event{kind: evSync, inode: ino, ok: true})
		return err
	}
	if len(after) != len(before) {
		c.recordLocked(event{kind: evTruncate, inode: ino, off: int64(len(after))})
		c.recordLocked(event{kind: evSync, inode: ino, ok: true})
	}
	changed := func(p int) bool {
		lo, hi := p*crashPageSize, (p+1)*crashPageSize
		return !bytes.Equal(pageOf(before, lo, hi), pageOf(after, lo, hi))
	}
	pages := (len(after) + crashPageSize - 1) / crashPageSize
	for p := 2; p < pages; p++ {
		if changed(p) {
			c.recordLocked(event{kind: evWrite, inode: ino, off: int64(p * crashPageSize), data: pageOf(after, p*crashPageSize, (p+1)*crashPageSize)})
		}
	}
	c.recordLocked(event{kind: evSync, inode: ino, ok: true})
	for p := range 2 {
		if changed(p) {
			c.recordLocked(event{kind: evWrite, inode: ino, off: int64(p * crashPageSize), data: pageOf(after, p*crashPageSize, (p+1)*crashPageSize)})
		}
	}
	if err == nil && c.syncPointLocked() {
		c.failedLocked(c.recordLocked(event{kind: evSync, inode: ino, ok: false}))
		return errInjected
	}
	c.recordLocked(event{kind: evSync, inode: ino, ok: err == nil})
	return err
}

// pageOf returns b[lo:hi], cut to b's length.
func pageOf(b []byte, lo, hi int) []byte {
	lo, hi = min(lo, len(b)), min(hi, len(b))
	return bytes.Clone(b[lo:hi])
}

// crashFile is a file opened through crashFS; inode -1 is a file outside
// its directory, whose operations are not recorded.
type crashFile struct {
	fs    *crashFS
	f     *os.File
	inode int
	dir   string // the directory it was opened in
}

// recordedLocked says whether the file's operations are recorded: it is in
// the current directory, not one the workload abandoned in a crash.
func (f *crashFile) recordedLocked() bool { return f.inode >= 0 && f.dir == f.fs.dir }

func (f *crashFile) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }

func (f *crashFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n, err := f.f.WriteAt(p, off)
	if f.recordedLocked() && n > 0 {
		f.fs.recordLocked(event{kind: evWrite, inode: f.inode, off: off, data: bytes.Clone(p[:n])})
	}
	return n, err
}

func (f *crashFile) size() (int64, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// sync records a sync without asking the disk for one: the model decides
// what is durable, and the real files only play the page cache.
func (f *crashFile) sync() error {
	f.fs.mu.Lock()
	hook := f.fs.beforeSync
	recorded := f.recordedLocked()
	f.fs.mu.Unlock()
	if !recorded {
		return nil
	}
	if hook != nil {
		hook()
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.syncPointLocked() {
		f.fs.failedLocked(f.fs.recordLocked(event{kind: evSync, inode: f.inode, ok: false}))
		return errInjected
	}
	f.fs.recordLocked(event{kind: evSync, inode: f.inode, ok: true})
	return nil
}

func (f *crashFile) Close() error { return f.f.Close() }

// rebase makes dir, which holds img, the current directory, as if the
// machine had crashed leaving img and come back up.
func (c *crashFS) rebase(dir string, img *crashImage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dir = filepath.Clean(dir)
	c.names = map[string]int{}
	for name, ino := range img.names {
		c.names[name] = ino
	}
	c.recordLocked(event{kind: evRebase, image: img})
	c.cache = map[int][]byte{}
	for ino, b := range img.files {
		c.cache[ino] = bytes.Clone(b)
	}
}

// opState is what a recorded write has become by a point of the record.
type opState int

const (
	opPending opState = iota // not synced yet: on the disk or not, whole or torn
	opDurable                // synced
	opLimbo                  // its sync failed: on the disk or not, for ever
)

// fileOp is a write (data at off) or a truncation (data nil, to size off)
// of a file, with what it has become.
type fileOp struct {
	off   int64
	data  []byte
	trunc bool
	state opState
	seq   int // order among all operations, for prefixes
}

// fileModel is one file: its durable contents base, and the operations
// after them that are not all durable.
type fileModel struct {
	base []byte
	ops  []fileOp
}

// dirOp is a change of the directory: name gets inode, or is removed (-1).
type dirOp struct {
	name  string
	inode int
	state opState
	seq   int
}

// crashModel replays a record and says what a power cut could leave.
type crashModel struct {
	files   map[int]*fileModel
	dirBase map[string]int
	dirOps  []dirOp
	seq     int
	// epoch counts the changes of what is durable, for telling images
	// apart by their plans.
	epoch int
}

func newCrashModel() *crashModel {
	return &crashModel{files: map[int]*fileModel{}, dirBase: map[string]int{}}
}

// apply advances the model by one event.
func (m *crashModel) apply(e event) {
	m.seq++
	if e.kind == evSyncDir || e.kind == evSync || e.kind == evRebase {
		m.epoch++
	}
	switch e.kind {
	case evCreate:
		m.files[e.inode] = &fileModel{}
		m.dirOps = append(m.dirOps, dirOp{name: e.name, inode: e.inode, seq: m.seq})
	case evLink:
		m.dirOps = append(m.dirOps, dirOp{name: e.name, inode: e.inode, seq: m.seq})
	case evRemove:
		m.dirOps = append(m.dirOps, dirOp{name: e.name, inode: -1, seq: m.seq})
	case evSyncDir:
		// A failed sync of the directory leaves its changes pending, for
		// the next sync to make durable: the directory's entries are the
		// file system's metadata, which it keeps (or stops altogether, as
		// ext4 does when its journal fails), not pages it may drop.
		if !e.ok {
			break
		}
		for i := range m.dirOps {
			m.dirOps[i].state = opDurable
		}
		for len(m.dirOps) > 0 && m.dirOps[0].state == opDurable {
			applyDir(m.dirBase, m.dirOps[0])
			m.dirOps = m.dirOps[1:]
		}
	case evWrite:
		f := m.files[e.inode]
		f.ops = append(f.ops, fileOp{off: e.off, data: e.data, seq: m.seq})
	case evTruncate:
		f := m.files[e.inode]
		f.ops = append(f.ops, fileOp{off: e.off, trunc: true, seq: m.seq})
	case evSync:
		f := m.files[e.inode]
		for i := range f.ops {
			if f.ops[i].state == opPending {
				f.ops[i].state = durableOr(e.ok)
			}
		}
		for len(f.ops) > 0 && f.ops[0].state == opDurable {
			f.base = applyOp(f.base, f.ops[0].off, f.ops[0].data, f.ops[0].trunc)
			f.ops = f.ops[1:]
		}
	case evRebase:
		m.files = map[int]*fileModel{}
		m.dirBase = map[string]int{}
		m.dirOps = nil
		for name, ino := range e.image.names {
			m.dirBase[name] = ino
		}
		for ino, b := range e.image.files {
			m.files[ino] = &fileModel{base: bytes.Clone(b)}
		}
	}
}

func durableOr(ok bool) opState {
	if ok {
		return opDurable
	}
	return opLimbo
}

func applyDir(dir map[string]int, op dirOp) {
	if op.inode < 0 {
		delete(dir, op.name)
	} else {
		dir[op.name] = op.inode
	}
}

// applyOp applies one write or truncation to b and returns it.
func applyOp(b []byte, off int64, data []byte, trunc bool) []byte {
	if trunc {
		if int64(len(b)) > off {
			return b[:off]
		}
		return append(b, make([]byte, off-int64(len(b)))...)
	}
	if end := off + int64(len(data)); end > int64(len(b)) {
		b = append(b, make([]byte, end-int64(len(b)))...)
	}
	copy(b[off:], data)
	return b
}

// pending says how many operations are not durable, for deciding how many
// images a point of the record is worth.
func (m *crashModel) pending() int {
	n := 0
	for _, op := range m.dirOps {
		if op.state != opDurable {
			n++
		}
	}
	for _, f := range m.files {
		n += len(f.ops)
	}
	return n
}

// limbo says whether a write whose sync failed may still reach the disk.
func (m *crashModel) limbo() bool {
	for _, f := range m.files {
		for _, op := range f.ops {
			if op.state == opLimbo {
				return true
			}
		}
	}
	return false
}

// crashImage is the directory a power cut leaves: names of files, and the
// contents of each file by inode.
type crashImage struct {
	names map[string]int
	files map[int][]byte
	how   string // how it was built, for failure messages
}

// variant chooses which operations that are not durable reach the disk.
type variant struct {
	name string
	// basic is set for the variants every point of the record has: nothing
	// more than what is durable, everything, and the writes whose sync
	// failed; failed for those that keep every write whose sync failed.
	basic, failed bool
	// keep decides for one operation; tear, for a write it keeps, whether
	// to keep only some of its sectors.
	keep func(state opState, seq int) bool
	tear bool
	rng  *rand.Rand
}

// plan is the choice of a variant: which operations that are not durable
// reach the disk, and of torn writes which sectors. Two plans with the same
// key build the same image.
type plan struct {
	how     string
	basic   bool
	failed  bool           // a basic plan that keeps every write whose sync failed, if any did
	keep    map[int]bool   // by seq
	sectors map[int][]bool // by seq: the sectors a torn write keeps
	key     uint64
}

// plan decides variant v for the model as it is now.
func (m *crashModel) plan(v variant, seed maphash.Seed) plan {
	p := plan{how: v.name, basic: v.basic, failed: v.failed && m.limbo(), keep: map[int]bool{}, sectors: map[int][]bool{}}
	var h maphash.Hash
	h.SetSeed(seed)
	fmt.Fprintf(&h, "%d;", m.epoch)
	decide := func(state opState, seq int) bool {
		k := v.keep(state, seq)
		p.keep[seq] = k
		if k {
			fmt.Fprintf(&h, "%d,", seq)
		}
		return k
	}
	for _, op := range m.dirOps {
		if op.state != opDurable {
			decide(op.state, op.seq)
		}
	}
	for _, ino := range slices.Sorted(maps.Keys(m.files)) {
		for _, op := range m.files[ino].ops {
			if op.state == opDurable || !decide(op.state, op.seq) {
				continue
			}
			if v.tear && !op.trunc && op.state == opPending && len(op.data) > 0 {
				var mask []bool
				for range sectorsOf(op.off, len(op.data)) {
					keep := v.rng.IntN(2) == 0
					mask = append(mask, keep)
					if keep {
						h.WriteByte(1)
					} else {
						h.WriteByte(0)
					}
				}
				p.sectors[op.seq] = mask
			}
		}
	}
	p.key = h.Sum64()
	return p
}

// image builds the image p plans.
func (m *crashModel) image(p plan) *crashImage {
	img := &crashImage{names: maps.Clone(m.dirBase), files: map[int][]byte{}, how: p.how}
	for _, op := range m.dirOps {
		if op.state == opDurable || p.keep[op.seq] {
			applyDir(img.names, op)
		}
	}
	for _, ino := range img.names {
		if _, done := img.files[ino]; done {
			continue
		}
		f := m.files[ino]
		b := bytes.Clone(f.base)
		for _, op := range f.ops {
			if op.state != opDurable && !p.keep[op.seq] {
				continue
			}
			if mask, torn := p.sectors[op.seq]; torn {
				i := 0
				for lo, hi := range sectorsOf(op.off, len(op.data)) {
					if mask[i] {
						b = applyOp(b, op.off+lo, op.data[lo:hi], false)
					}
					i++
				}
				continue
			}
			b = applyOp(b, op.off, op.data, op.trunc)
		}
		img.files[ino] = b
	}
	return img
}

// sectorsOf yields the ranges [lo, hi) of a write of n bytes at off that
// fall in one sector each.
func sectorsOf(off int64, n int) func(func(int64, int64) bool) {
	return func(yield func(int64, int64) bool) {
		for lo := int64(0); lo < int64(n); {
			hi := min(int64(n), (off+lo)/sectorSize*sectorSize+sectorSize-off)
			if !yield(lo, hi) {
				return
			}
			lo = hi
		}
	}
}

// variants returns the images worth checking at this point of the record:
// nothing that is not durable, everything, prefixes of what is pending (in
// the order it was written), and extra random subsets and tears.
func (m *crashModel) variants(rng *rand.Rand, extra int) []variant {
	none := func(opState, int) bool { return false }
	all := func(opState, int) bool { return true }
	vs := []variant{{name: "durable only", keep: none, basic: true}, {name: "everything written", keep: all, basic: true, failed: true}}
	if m.limbo() {
		vs = append(vs, variant{name: "durable and every write whose sync failed", basic: true, failed: true,
			keep: func(s opState, _ int) bool { return s == opLimbo }})
	}
	var seqs []int
	for _, op := range m.dirOps {
		if op.state == opPending {
			seqs = append(seqs, op.seq)
		}
	}
	for _, f := range m.files {
		for _, op := range f.ops {
			if op.state == opPending {
				seqs = append(seqs, op.seq)
			}
		}
	}
	slices.Sort(seqs)
	if len(seqs) > 1 && len(seqs) <= 8 {
		for k := 1; k < len(seqs); k++ {
			cut := seqs[k]
			vs = append(vs, variant{name: fmt.Sprintf("first %d of %d pending", k, len(seqs)),
				keep: func(s opState, seq int) bool { return s == opPending && seq < cut }})
		}
	}
	for i := range extra {
		r := rand.New(rand.NewPCG(rng.Uint64(), uint64(i)))
		chosen := map[int]bool{}
		keep := func(_ opState, seq int) bool {
			k, ok := chosen[seq]
			if !ok {
				k = r.IntN(2) == 0
				chosen[seq] = k
			}
			return k
		}
		vs = append(vs, variant{name: fmt.Sprintf("random subset %d", i), keep: keep, tear: i%2 == 1, rng: r})
	}
	return vs
}

// write creates img's files in dir, which must be empty.
func (img *crashImage) write(dir string) error {
	for name, ino := range img.names {
		if err := os.WriteFile(filepath.Join(dir, name), img.files[ino], 0o600); err != nil {
			return err
		}
	}
	return nil
}

// String lists img's files and their sizes.
func (img *crashImage) String() string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(img.names)) {
		parts = append(parts, fmt.Sprintf("%s (%d bytes)", name, len(img.files[img.names[name]])))
	}
	return fmt.Sprintf("%s: %s", img.how, strings.Join(parts, ", "))
}

// clearDir removes everything in dir.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
