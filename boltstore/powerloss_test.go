package boltstore

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"
)

// The power-loss simulation, in the manner of SQLite's crash tests: a
// workload runs against a Store whose file operations crashFS records
// (commits through checkpoints, log generations, Close, crashes and the
// replay at the next Open, a store without a log), then every point of the
// record is turned into the images a power cut there could leave (all that
// was synced, plus any subset, prefix or sector-sized tear of what was not),
// and each image is opened and checked: every write acknowledged before
// the cut is there, whole and at its version, and nothing else is: no write
// never made, none reported failed (except in the window before the log is
// repaired, in which nothing is acknowledged) and nothing older than what
// was acknowledged.

var (
	powerLossImages = flag.Int("powerloss.images", 1200,
		"at least this many distinct crash images TestPowerLoss_Workload opens and checks")
	powerLossSeed = flag.Uint64("powerloss.seed", 0,
		"seed of the power-loss workloads (0: a new one, logged)")
	powerLossFaultImages = flag.Int("powerloss.fault-images", 12,
		"crash images TestPowerLoss_SyncFailures checks per failed sync point (0: every distinct one)")
)

// plKeys are the keys the workload writes.
var plKeys = []bucketKey{{"p", "a"}, {"p", "b"}, {"p", "c"}, {"p", "d"}, {"p", "e"}, {"q", "x"}, {"q", "y"}, {"q", "z"}}

// plWrite is one write the workload submitted.
type plWrite struct {
	key   bucketKey
	del   bool
	rec   store.Record
	req   int // the request it belongs to
	entry int // its place in the key's entries
}

// plReq is one request and what became of it: the indexes, in the record,
// of its submission and its outcome (-1: none yet).
type plReq struct {
	writes   []int
	submit   int
	ack      int
	fail     int
	conflict bool // rejected before anything was written: never on disk
}

// plEntry is one state a key was given, in the order the workload gave
// them: a write (write >= 0), or a state Open was observed to have after a
// crash (req -1), which then is what was acknowledged.
type plEntry struct {
	write int // -1: absent
	req   int // -1: an observation
	ack   int // index in the record of its acknowledgement, -1: none
}

// plHistory is what the workload did, for the checks.
type plHistory struct {
	// mu guards everything below: done callbacks record on the completer.
	mu     sync.Mutex
	writes []plWrite
	reqs   []plReq
	keys   map[bucketKey][]plEntry
	acks   []int // indexes in the record of every acknowledgement, in order
}

// plRun is one run of a workload.
type plRun struct {
	t     *testing.T
	fs    *crashFS
	hist  *plHistory
	rng   *rand.Rand
	root  string
	path  string
	s     *Store
	opts  []Option
	stamp uint64
	// cur is what the workload expects each key to hold once its requests
	// so far commit.
	cur map[bucketKey]plEntry
	// stats adds up the failures the stores counted.
	failures uint64
}

func newPLRun(t *testing.T, seed uint64, failAt int) *plRun {
	root := t.TempDir()
	dir := filepath.Join(root, "0")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fsys := newCrashFS(dir)
	if failAt > 0 {
		fsys.fail[failAt] = true
	}
	return &plRun{
		t: t, fs: fsys, rng: rand.New(rand.NewPCG(seed, 1)), root: root,
		path: filepath.Join(dir, "store.db"),
		hist: &plHistory{keys: map[bucketKey][]plEntry{}},
		// Checkpoints fold in transactions of 3 records, so that a
		// cut can fall between two transactions of one fold.
		opts: []Option{func(c *config) { c.fs = fsys; c.foldTx = 3 }, WithWALSize(64 << 10)},
		cur:  map[bucketKey]plEntry{},
	}
}

// open opens the store, trying again after an injected failure, and
// records what every key holds as acknowledged.
func (r *plRun) open(opts ...Option) {
	r.t.Helper()
	var err error
	for range 3 {
		if r.s, err = Open(r.path, append(slices.Clip(r.opts), opts...)...); !errors.Is(err, errInjected) {
			break
		}
	}
	if err != nil {
		r.t.Fatalf("Open = %v", err)
	}
	for _, k := range plKeys {
		rec, ok, err := r.s.Get(context.Background(), k.bucket, k.key)
		if err != nil {
			r.t.Fatalf("Get(%v) after Open = %v", k, err)
		}
		w := -1
		if ok {
			if w = r.hist.find(k, rec); w < 0 {
				r.t.Fatalf("after Open %v holds %+v, which was never written", k, rec)
			}
		}
		e := plEntry{write: w, req: -1}
		e.ack = r.fs.mark(0)
		r.hist.mu.Lock()
		r.hist.keys[k] = append(r.hist.keys[k], e)
		r.hist.acks = append(r.hist.acks, e.ack)
		r.hist.mu.Unlock()
		r.cur[k] = e
	}
}

// find returns the write of k whose record is rec, or -1.
func (h *plHistory) find(k bucketKey, rec store.Record) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, w := range h.writes {
		if w.key == k && !w.del && sameRecord(w.rec, rec) {
			return i
		}
	}
	return -1
}

func sameRecord(a, b store.Record) bool {
	return a.Version == b.Version && a.Stamp == b.Stamp && a.Lineage == b.Lineage && a.Position == b.Position &&
		a.UpdatedAt.Equal(b.UpdatedAt) && bytes.Equal(a.State, b.State)
}

// version returns what entry e of the history holds: present, version and
// stamp.
func (h *plHistory) state(e plEntry) (bool, uint64, uint64) {
	if e.write < 0 || h.writes[e.write].del {
		return false, 0, 0
	}
	rec := h.writes[e.write].rec
	return true, rec.Version, rec.Stamp
}

// rounds submits n rounds of 1 to 3 requests of 1 or 2 writes each and
// waits for their outcomes. A round's requests commit one by one, or
// together in one batch: the Store is held in a callback, during which it
// takes no request off the queue, while they are submitted, so that the
// record, and the numbering of its sync points, is the same in every run of
// a seed.
func (r *plRun) rounds(n int) {
	r.t.Helper()
	ctx := context.Background()
	for range n {
		together := r.rng.IntN(3) > 0
		release, held := make(chan struct{}), make(chan struct{})
		if together {
			if err := r.s.Submit(ctx, nil, func(error) { close(held); <-release }); err != nil {
				r.t.Fatalf("Submit = %v", err)
			}
			<-held
		}
		var wg sync.WaitGroup
		failed := false
		var failMu sync.Mutex // guards failed
		for range 1 + r.rng.IntN(3) {
			ws, idx := r.request()
			wg.Add(1)
			err := r.s.Submit(ctx, ws, func(err error) {
				r.done(idx, err)
				if err != nil {
					failMu.Lock()
					failed = true
					failMu.Unlock()
				}
				wg.Done()
			})
			if err != nil {
				r.t.Fatalf("Submit = %v", err)
			}
			if !together {
				wg.Wait()
			}
		}
		close(release)
		wg.Wait()
		if failed {
			r.resync()
		}
	}
}

// request builds one request on the keys' expected states and records its
// submission.
func (r *plRun) request() ([]store.Write, int) {
	keys := slices.Clone(plKeys)
	r.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	keys = keys[:1+r.rng.IntN(2)]
	h := r.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	req := len(h.reqs)
	h.reqs = append(h.reqs, plReq{ack: -1, fail: -1})
	var ws []store.Write
	for _, k := range keys {
		present, version, stamp := h.state(r.cur[k])
		w := store.Write{Bucket: k.bucket, Key: k.key, Expect: version, ExpectStamp: stamp}
		pw := plWrite{key: k, req: req, entry: len(h.keys[k])}
		if present && r.rng.IntN(7) == 0 {
			w.Delete, pw.del = true, true
		} else {
			r.stamp++
			w.Record = store.Record{
				Version: version + 1, Stamp: r.stamp, Lineage: r.stamp % 3, Position: r.stamp,
				UpdatedAt: time.Unix(1700000000, int64(r.stamp)).UTC(),
				State:     stateOf(r.stamp, r.rng.IntN(3000)),
			}
			pw.rec = w.Record
		}
		h.writes = append(h.writes, pw)
		e := plEntry{write: len(h.writes) - 1, req: req, ack: -1}
		h.keys[k] = append(h.keys[k], e)
		h.reqs[req].writes = append(h.reqs[req].writes, e.write)
		r.cur[k] = e
		ws = append(ws, w)
	}
	h.reqs[req].submit = r.fs.mark(0)
	return ws, req
}

// stateOf is the state of the write with stamp, n bytes that differ from
// every other write's.
func stateOf(stamp uint64, n int) []byte {
	b := make([]byte, n)
	x := stamp*0x9E3779B97F4A7C15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// done records the outcome of request req.
func (r *plRun) done(req int, err error) {
	at := r.fs.mark(0)
	h := r.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	q := &h.reqs[req]
	if err == nil {
		q.ack = at
		h.acks = append(h.acks, at)
		for _, w := range q.writes {
			pw := h.writes[w]
			h.keys[pw.key][pw.entry].ack = at
		}
		return
	}
	q.fail = at
	q.conflict = errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrCommit)
	if !q.conflict && !errors.Is(err, store.ErrCommit) {
		r.t.Errorf("request %d failed with %v; want a commit failure or a conflict", req, err)
	}
}

// resync sets the expected state of every key to what the store holds,
// after a failure broke the chain of expectations.
func (r *plRun) resync() {
	for _, k := range plKeys {
		rec, ok, err := r.s.Get(context.Background(), k.bucket, k.key)
		if err != nil {
			r.t.Fatalf("Get(%v) = %v", k, err)
		}
		w := -1
		if ok {
			if w = r.hist.find(k, rec); w < 0 {
				r.t.Fatalf("%v holds %+v, which was never written", k, rec)
			}
		}
		r.cur[k] = plEntry{write: w}
	}
}

func (r *plRun) checkpoint() {
	if err := r.s.Checkpoint(context.Background()); err != nil && len(r.fs.fail) == 0 {
		r.t.Fatalf("Checkpoint = %v", err)
	}
}

func (r *plRun) close() {
	r.count()
	if err := r.s.Close(); err != nil && len(r.fs.fail) == 0 {
		r.t.Fatalf("Close = %v", err)
	}
	r.s = nil
}

func (r *plRun) count() {
	st := r.s.Stats()
	r.failures += st.FailedSyncs + st.FailedCheckpoints + st.FailedCommits
}

// crash stops the store as a power cut would: the workload goes on in a new
// directory holding an image of what the cut could have left (a random one
// of those images), and the store is abandoned (closed where nothing
// records it any more).
func (r *plRun) crash() {
	m := newCrashModel()
	// A checkpoint may be running: the cut is wherever the record is now.
	r.fs.mu.Lock()
	for _, e := range r.fs.events {
		m.apply(e)
	}
	cut := len(r.fs.events)
	r.fs.mu.Unlock()
	vs := m.variants(r.rng, 4)
	img := m.image(m.plan(vs[r.rng.IntN(len(vs))], maphash.MakeSeed()))
	dir := filepath.Join(r.root, fmt.Sprint(cut))
	if err := os.Mkdir(dir, 0o700); err != nil {
		r.t.Fatal(err)
	}
	if err := img.write(dir); err != nil {
		r.t.Fatal(err)
	}
	r.fs.rebase(dir, img)
	r.count()
	_ = r.s.Close()
	r.s, r.path = nil, filepath.Join(dir, "store.db")
}

// script is the workload: a new file, commits through checkpoints, Close,
// crashes and replays, a store without a log, and reopening with one.
func (r *plRun) script(scale int) {
	r.open()
	r.rounds(6 * scale)
	r.checkpoint()
	r.rounds(3 * scale)
	r.close()
	r.open()
	r.rounds(5 * scale)
	r.crash()
	r.open()
	r.rounds(3 * scale)
	r.crash()
	r.open(WithoutWAL())
	r.rounds(2 * scale)
	r.close()
	r.open()
	r.rounds(3 * scale)
	r.close()
	if r.fs.diverged != nil {
		r.t.Fatal(r.fs.diverged)
	}
}

// plCheck is the checking of one image.
type plCheck struct {
	img *crashImage
	cut int // the image is of the record up to and including event cut
}

// checker opens images and checks them against the history.
type checker struct {
	t    *testing.T
	run  *plRun
	jobs chan plCheck
	wg   sync.WaitGroup
	// mu guards the counts and failures below.
	mu       sync.Mutex
	checked  int
	failures []string
}

func newChecker(t *testing.T, r *plRun) *checker {
	c := &checker{t: t, run: r, jobs: make(chan plCheck)}
	for range max(2, runtime.GOMAXPROCS(0)) {
		dir := t.TempDir()
		c.wg.Go(func() {
			for j := range c.jobs {
				if err := c.check(dir, j); err != nil {
					c.mu.Lock()
					c.failures = append(c.failures, fmt.Sprintf("cut after event %d of %d (%s): %v",
						j.cut, len(r.fs.events), j.img, err))
					c.mu.Unlock()
				}
				c.mu.Lock()
				c.checked++
				c.mu.Unlock()
			}
		})
	}
	return c
}

// finish waits for the checks and reports their failures.
func (c *checker) finish() int {
	close(c.jobs)
	c.wg.Wait()
	for i, f := range c.failures {
		if i == 10 {
			c.t.Errorf("... and %d more failed images", len(c.failures)-10)
			break
		}
		c.t.Error(f)
	}
	return c.checked
}

// sweep checks the images of every cut of the record from event from on,
// each cut's variants with extra random ones, leaving out images seen
// before with the same acknowledgements; with limit > 0, only that many of
// them, chosen at random. It returns how many it checked.
func (c *checker) sweep(from, extra, limit int, seen map[[2]uint64]bool, seed maphash.Seed, rng *rand.Rand) int {
	events := c.run.fs.events
	m := newCrashModel()
	type candidate struct {
		p   plan
		cut int
	}
	var found []candidate
	acked := 0
	for i, e := range events {
		m.apply(e)
		if e.kind == evMark {
			acked = i
		}
		if i < from || e.kind == evRebase {
			continue
		}
		n := extra
		if m.pending() == 0 {
			n = 0
		}
		for _, v := range m.variants(rng, n) {
			p := m.plan(v, seed)
			key := [2]uint64{p.key, uint64(acked)}
			if seen[key] {
				continue
			}
			seen[key] = true
			if limit > 0 {
				found = append(found, candidate{p, i})
			} else {
				c.jobs <- plCheck{img: m.image(p), cut: i}
			}
		}
	}
	if limit <= 0 || len(found) == 0 {
		return len(seen)
	}
	// A second pass builds the images of a choice of the plans: two thirds
	// of them basic ones (see variant) spread evenly over the record, so that
	// every stretch of it is checked, those that keep writes whose sync
	// failed if there are any, and the rest at random.
	if len(found) > limit {
		var basic, failed []int
		for i, c := range found {
			if c.p.basic {
				basic = append(basic, i)
			}
			if c.p.failed {
				failed = append(failed, i)
			}
		}
		if len(failed) > 0 {
			basic = failed
		}
		var chosen []candidate
		if n := min(2*limit/3, len(basic)); n > 0 {
			step := float64(len(basic)) / float64(n)
			for i := range n {
				j := basic[int(float64(i)*step)]
				chosen = append(chosen, found[j])
				found[j].cut = -1
			}
		}
		found = slices.DeleteFunc(found, func(c candidate) bool { return c.cut < 0 })
		rng.Shuffle(len(found), func(i, j int) { found[i], found[j] = found[j], found[i] })
		found = append(chosen, found[:limit-len(chosen)]...)
	}
	n := len(found)
	slices.SortFunc(found, func(a, b candidate) int { return a.cut - b.cut })
	m = newCrashModel()
	for i, e := range events {
		m.apply(e)
		for len(found) > 0 && found[0].cut == i {
			c.jobs <- plCheck{img: m.image(found[0].p), cut: i}
			found = found[1:]
		}
	}
	return n
}

// check opens the image j in dir and checks every key against the history.
func (c *checker) check(dir string, j plCheck) error {
	if err := clearDir(dir); err != nil {
		return err
	}
	if err := j.img.write(dir); err != nil {
		return err
	}
	s, err := Open(filepath.Join(dir, "store.db"), WithNoSync())
	if err != nil {
		return fmt.Errorf("Open = %w", err)
	}
	err = c.checkStore(s, j.cut)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("Close = %w", cerr)
	}
	return err
}

func (c *checker) checkStore(s *Store, cut int) error {
	ctx := context.Background()
	h := c.run.hist
	matched := map[bucketKey]int{}
	for _, k := range plKeys {
		rec, ok, err := s.Get(ctx, k.bucket, k.key)
		if err != nil {
			return fmt.Errorf("Get(%v) = %w", k, err)
		}
		entry, allowed := h.match(k, ok, rec, cut)
		if entry < -1 {
			got := "absent"
			if ok {
				got = fmt.Sprintf("version %d stamp %d (%d state bytes)", rec.Version, rec.Stamp, len(rec.State))
			}
			return fmt.Errorf("%v is %s; allowed: %s", k, got, allowed)
		}
		matched[k] = entry
	}
	if err := h.atomic(matched); err != nil {
		return err
	}
	for _, b := range []string{"p", "q"} {
		for k, err := range s.Keys(ctx, b) {
			if err != nil {
				return fmt.Errorf("Keys(%s) = %w", b, err)
			}
			if !slices.Contains(plKeys, bucketKey{b, k}) {
				return fmt.Errorf("Keys(%s) yields %q, which was never written", b, k)
			}
		}
	}
	bad, err := s.Verify(ctx)
	if err != nil || len(bad) > 0 {
		return fmt.Errorf("Verify = %v, %v", bad, err)
	}
	return nil
}

// match returns the entry of k's history that the image's value (present
// and rec) is, -1 for the state before the first write, and below -1 when
// the value is not allowed at cut, with the allowed states described.
func (h *plHistory) match(k bucketKey, present bool, rec store.Record, cut int) (int, string) {
	entries := h.keys[k]
	// a is the last entry acknowledged by the cut: the value may be it or
	// a later one, never an earlier.
	a := -1
	for i, e := range entries {
		if e.ack >= 0 && e.ack <= cut {
			a = i
		}
	}
	// Among states the value could be, the last: an absent key could be
	// any of several deletes.
	found := -2
	if a < 0 && !present {
		found = -1
	}
	var allowed []string
	if a < 0 {
		allowed = append(allowed, "absent (nothing acknowledged)")
	}
	for i := max(a, 0); i < len(entries); i++ {
		e := entries[i]
		if !h.possible(e, cut) {
			continue
		}
		p, version, stamp := h.state(e)
		if p == present && (!p || sameRecord(h.writes[e.write].rec, rec)) {
			found = i
		}
		if p {
			allowed = append(allowed, fmt.Sprintf("version %d stamp %d (entry %d)", version, stamp, i))
		} else {
			allowed = append(allowed, fmt.Sprintf("absent (entry %d)", i))
		}
	}
	return found, strings.Join(allowed, ", ")
}

// possible says whether entry e may be on the disk at cut: written by then,
// not rejected, and not reported failed unless nothing was acknowledged
// since (the window in which a failed write may still be replayed).
func (h *plHistory) possible(e plEntry, cut int) bool {
	if e.req < 0 {
		return e.ack <= cut
	}
	q := h.reqs[e.req]
	if q.submit > cut || q.conflict {
		return false
	}
	if q.fail >= 0 && q.fail <= cut {
		for _, a := range h.acks {
			if a > q.fail && a <= cut {
				return false
			}
		}
	}
	return true
}

// atomic checks that the requests are all or nothing: where a key holds a
// record a request wrote, every other key of the request holds that
// request's write or a later one. (An absent key could be any of several
// deletes, so it proves nothing.)
func (h *plHistory) atomic(matched map[bucketKey]int) error {
	for k, entry := range matched {
		if entry < 0 || h.keys[k][entry].req < 0 || h.writes[h.keys[k][entry].write].del {
			continue
		}
		q := h.reqs[h.keys[k][entry].req]
		for _, w := range q.writes {
			pw := h.writes[w]
			if matched[pw.key] < pw.entry {
				return fmt.Errorf("%v holds entry %d of request %d, but %v holds entry %d, before the request's",
					k, entry, h.keys[k][entry].req, pw.key, matched[pw.key])
			}
		}
	}
	return nil
}

// reduced returns n, or a sixth of it under the race detector or -short,
// unless the flag called name was given.
func reduced(t *testing.T, name string, n int) int {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	if given || !(raceEnabled || testing.Short()) {
		return n
	}
	t.Logf("checking a sixth of the -%s under the race detector or -short", name)
	return max(1, n/6)
}

// powerLossSeedFor returns the seed to use, logging it.
func powerLossSeedFor(t *testing.T) uint64 {
	seed := *powerLossSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -powerloss.seed=%d)", seed, seed)
	return seed
}

// Ensure that a power cut at any moment of a workload that commits through
// checkpoints, log generations, Close, crashes and the replay at Open, and
// a store without a log, loses no acknowledged write and invents none: at
// least -powerloss.images distinct crash images, each opened and checked.
func TestPowerLoss_Workload(t *testing.T) {
	seed := powerLossSeedFor(t)
	run := newPLRun(t, seed, 0)
	run.script(4)
	c := newChecker(t, run)
	seen := map[[2]uint64]bool{}
	hashSeed := maphash.MakeSeed()
	rng := rand.New(rand.NewPCG(seed, 2))
	want := reduced(t, "powerloss.images", *powerLossImages)
	if want < *powerLossImages {
		c.sweep(0, 1, want, seen, hashSeed, rng)
	}
	for extra := 1; len(seen) < want; extra *= 2 {
		before := len(seen)
		c.sweep(0, extra, 0, seen, hashSeed, rng)
		if len(seen) == before && extra > 64 {
			break
		}
	}
	checked := c.finish()
	acked := len(run.hist.acks)
	t.Logf("power loss: %d events recorded, %d acknowledgements, %d crash images checked, %d failed",
		len(run.fs.events), acked, checked, len(c.failures))
	if checked < want {
		t.Errorf("checked %d images; want at least %d", checked, want)
	}
}

// Ensure that a failed sync at any sync point (of the log when a frame is
// appended, erased or preallocated, of the directory, or of the file when a
// checkpoint, a replay or a commit without a log syncs) never makes the
// store acknowledge a write a power cut loses, or keep one it reported
// failed after it acknowledged anything else: for each sync point, a run
// that fails it, and crash images of every cut after the failure.
func TestPowerLoss_SyncFailures(t *testing.T) {
	seed := powerLossSeedFor(t)
	dry := newPLRun(t, seed, 0)
	dry.script(1)
	points := dry.fs.syncPoints
	rng := rand.New(rand.NewPCG(seed, 3))
	images := *powerLossFaultImages
	if images > 0 {
		images = reduced(t, "powerloss.fault-images", images)
	}
	every := 1
	if reduced(t, "powerloss.fault-images", 6) == 1 {
		every = 4 // and a quarter of the sync points
	}
	total, runs, counted := 0, 0, 0
	for k := 1 + rng.IntN(every); k <= points; k += every {
		run := newPLRun(t, seed, k)
		run.script(1)
		if run.fs.failedAt < 0 {
			continue // the run took another path and did not reach sync point k
		}
		runs++
		if run.failures > 0 {
			counted++
		}
		c := newChecker(t, run)
		c.sweep(run.fs.failedAt, 1, images, map[[2]uint64]bool{}, maphash.MakeSeed(), rng)
		total += c.finish()
		if t.Failed() {
			t.Fatalf("sync point %d of %d failed", k, points)
		}
	}
	t.Logf("sync failures: %d sync points, %d runs that failed one, %d counted by the store's Stats, %d crash images checked",
		points, runs, counted, total)
	if runs < points/every/2 {
		t.Errorf("only %d of %d sync points were reached and failed", runs, points/every)
	}
}

// Ensure that a power cut at any moment of the first Open of a new file,
// with or without a log, leaves either no file or one that opens, holding
// nothing: every image of every point of the record, with many random
// tears.
func TestPowerLoss_FirstOpen(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithoutWAL()}} {
		run := newPLRun(t, powerLossSeedFor(t), 0)
		run.open(opts...)
		run.close()
		c := newChecker(t, run)
		n := c.sweep(0, 16, 0, map[[2]uint64]bool{}, maphash.MakeSeed(), run.rng)
		c.finish()
		t.Logf("first Open with %d options: %d events, %d crash images checked", len(opts), len(run.fs.events), n)
	}
}

// Ensure that while a checkpoint folds one log file into the file, commits
// go on into the other and are acknowledged, and that a power cut at any
// moment of that (the fold held before its commit of the file, then let
// go, while commits go on) loses no acknowledged write and invents none:
// every distinct crash image from the moment the fold began.
func TestPowerLoss_CheckpointBesideCommits(t *testing.T) {
	run := newPLRun(t, powerLossSeedFor(t), 0)
	run.open()
	held, release := make(chan struct{}), make(chan struct{})
	var hold, let sync.Once
	letGo := func() { let.Do(func() { close(release) }) }
	run.fs.onBolt(func() {
		hold.Do(func() {
			close(held)
			<-release
		})
	})
	from := -1
	for i := 0; from < 0; i++ {
		if i == 1000 {
			t.Fatal("no checkpoint began after 1000 rounds")
		}
		run.rounds(1)
		select {
		case <-held:
			from = run.fs.mark(0)
		default:
		}
	}
	acked := len(run.hist.acks)
	// A store whose commits wait for its checkpoint would wait for ever.
	watchdog := time.AfterFunc(20*time.Second, func() {
		t.Error("the commits did not go on while the checkpoint was held")
		letGo()
	})
	run.rounds(12)
	watchdog.Stop()
	if st := run.s.Stats(); st.Checkpoints != 0 {
		t.Fatalf("Checkpoints = %d while the first one is held; want 0", st.Checkpoints)
	}
	if len(run.hist.acks) == acked {
		t.Fatal("nothing was acknowledged while the checkpoint was held")
	}
	letGo()
	run.rounds(12)
	run.close()
	if run.fs.diverged != nil {
		t.Fatal(run.fs.diverged)
	}
	c := newChecker(t, run)
	n := c.sweep(from, 2, 0, map[[2]uint64]bool{}, maphash.MakeSeed(), run.rng)
	c.finish()
	t.Logf("checkpoint beside commits: %d events, %d acknowledgements while it was held, %d crash images checked",
		len(run.fs.events), len(run.hist.acks)-acked, n)
}
