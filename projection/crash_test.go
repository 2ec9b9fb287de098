package projection_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// crashKills is how many times TestCrash_KillDuringApplies kills its child,
// crashRebuildKills how many times TestCrash_KillDuringRebuildAll does. The
// defaults keep go test short; a long run is -crash.kills=500 or
// -crash.rebuildkills=200.
var (
	crashKills        = flag.Int("crash.kills", 20, "number of SIGKILLs in TestCrash_KillDuringApplies")
	crashRebuildKills = flag.Int("crash.rebuildkills", 6, "number of SIGKILLs in TestCrash_KillDuringRebuildAll")
)

// The child side of the kill tests is selected by these variables.
const (
	crashChildEnv      = "LIVEFOLD_CRASH_CHILD" // the store's path
	crashSeedEnv       = "LIVEFOLD_CRASH_SEED"
	crashRebuildAllEnv = "LIVEFOLD_CRASH_REBUILDALL" // set: the child also runs RebuildAll
)

// The child runs crashOwners goroutines, each the only producer of
// crashKeysPer keys of its own, and all of them also apply to crashHotKey,
// so that commits of many keys share transactions and a hot key folds on
// pending states.
const (
	crashOwners  = 8
	crashKeysPer = 3
	crashHotKey  = "hot"
)

// crashEvent is event number N of its key's stream; N 0 (only on the hot
// key, which has many producers) means "the next one", so that the fold
// numbers it. Positioned, so redelivery after a crash is exactly-once.
type crashEvent struct {
	Key string
	N   uint64
}

func (e crashEvent) StreamPosition() uint64 { return e.N }

// crashState is the fold of events 1..Last of a key. Hash depends on every
// event and its order, so a state with a lost, doubled or reordered event
// differs from crashFold(Last).
type crashState struct {
	Last uint64
	Sum  uint64
	Hash uint64
}

type crashProjection struct{}

func (crashProjection) Name() string            { return "test.crash" }
func (crashProjection) Key(e crashEvent) string { return e.Key }
func (crashProjection) Apply(s *crashState, e crashEvent) uint64 {
	n := e.N
	if n == 0 {
		n = s.Last + 1
	}
	s.Last = n
	s.Sum += n
	s.Hash = (s.Hash ^ n) * 1099511628211
	return n
}

// crashFold is the state after events 1..v.
func crashFold(v uint64) crashState {
	var s crashState
	for n := uint64(1); n <= v; n++ {
		crashProjection{}.Apply(&s, crashEvent{N: n})
	}
	return s
}

func crashKeys() []string {
	keys := []string{crashHotKey}
	for o := range crashOwners {
		for k := range crashKeysPer {
			keys = append(keys, fmt.Sprintf("o%d-k%d", o, k))
		}
	}
	return keys
}

// Ensure that a process killed with SIGKILL at random moments, while many
// goroutines apply, batch and rebuild with group commits on a durable store,
// loses no acknowledged event: after every kill the file verifies clean,
// every key's version is at least the last one acknowledged, and every
// snapshot is exactly the fold of its key's events up to its version. The
// next child continues on the same file and redelivers the last event of
// each stream, which must be refused as a duplicate.
func TestCrash_KillDuringApplies(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("running as the crash child")
	}
	if testing.Short() && *crashKills > 5 {
		*crashKills = 5
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	seed := rng.Uint64()
	t.Logf("seed %d", seed)

	acked := make(map[string]uint64) // the highest version acknowledged per key
	var events, lost, hot uint64
	for kill := range *crashKills {
		got := runCrashChild(t, path, seed+uint64(kill), crashKill{after: "ack", delay: time.Duration(rng.IntN(60)) * time.Millisecond})
		events += got.events
		f := checkCrashFile(t, path)
		lost += checkCrashAcks(t, kill, acked, got, f, &hot)
		if t.Failed() {
			break
		}
	}
	t.Logf("crash summary: kills %d, events acknowledged %d, events lost %d", *crashKills, events, lost)
	require.NotZero(t, events, "no child acknowledged anything")
}

// Ensure that a process killed with SIGKILL at random points of RebuildAll
// (before it, during the fold of its source, during the fold of what was
// applied meanwhile, around the switch, during the removal of the previous
// generation), while applies, batches and rebuilds go on, loses nothing and
// leaves nothing behind. After every kill: the file verifies clean; the
// current generation is the one of the last RebuildAll acknowledged, or a
// later one only if a RebuildAll was under way and its switch was durable;
// whichever it is holds every acknowledged event exactly once and every
// version the source had read (so an old generation still current is as it
// was, with everything applied meanwhile, and a new one is complete); and
// once the next New removed the leftovers in the background, no other
// generation holds a key.
func TestCrash_KillDuringRebuildAll(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("running as the crash child")
	}
	kills := *crashRebuildKills
	if testing.Short() {
		kills = min(kills, 3)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	seed := rng.Uint64()
	t.Logf("seed %d", seed)

	// Each kill waits for one of the child's marks, then lands a few
	// milliseconds later, so that every stage of RebuildAll is hit. The
	// first kill on a file lands around its first switch, the only one
	// whose previous generation is the projection's first (numbered 0); a
	// long run starts a new file every crashKillsPerFile kills to land
	// there again.
	marks := []string{"switched", "rebuilt", "rebuild", "fold", "folded", "ack"}
	const crashKillsPerFile = 8 * 6
	landed := make(map[string]int)
	var path string
	var acked map[string]uint64
	var events, lost, hot, rebuildAlls, gen uint64
	for kill := range kills {
		if kill%crashKillsPerFile == 0 {
			path = filepath.Join(dir, fmt.Sprintf("crash%d.db", kill/crashKillsPerFile))
			acked, hot, gen = make(map[string]uint64), 0, 0
		}
		mark := marks[kill%len(marks)]
		delay := time.Duration(rng.IntN(4000)) * time.Microsecond
		if mark == "ack" {
			delay = time.Duration(rng.IntN(60)) * time.Millisecond
		}
		got := runCrashChild(t, path, seed+uint64(kill), crashKill{rebuildAll: true, after: mark, delay: delay})
		events += got.events
		rebuildAlls += got.rebuildAlls
		f := checkCrashFile(t, path)
		lost += checkCrashAcks(t, kill, acked, got, f, &hot)

		want := gen // the generation of the last RebuildAll acknowledged
		if got.rebuildAlls > 0 {
			want = got.generation
		}
		if f.current != want && (!got.pending || f.current < want) {
			t.Errorf("kill %d: generation %d is current, but %d was the last acknowledged (a RebuildAll under way: %v)", kill, f.current, want, got.pending)
		}
		landed[crashLanding(f, got, want)]++
		gen = f.current
		if t.Failed() {
			break
		}
	}
	t.Logf("rebuildall crash summary: kills %d, RebuildAlls acknowledged %d, events acknowledged %d, events lost %d", kills, rebuildAlls, events, lost)
	for _, l := range slices.Sorted(maps.Keys(landed)) {
		t.Logf("kills landed %s: %d", l, landed[l])
	}
	require.NotZero(t, events, "no child acknowledged anything")
	require.NotZero(t, rebuildAlls, "no child acknowledged a RebuildAll")
}

// crashLanding names where in RebuildAll a kill landed, from the generation
// record it left, the child's last mark and want, the generation of the
// last RebuildAll acknowledged.
func crashLanding(f crashFile, got crashAcks, want uint64) string {
	switch {
	case f.current != want:
		return "after a durable switch, before RebuildAll returned"
	case f.atKill.Building != 0 && got.mark == "fold":
		return "during the fold of the source"
	case f.atKill.Building != 0 && got.mark == "folded":
		return "during the fold of what was applied meanwhile, before the switch"
	case f.atKill.Building != 0:
		return "before the fold of the source"
	case len(f.atKill.Leftover) > 0:
		return "during the removal of the previous generation"
	case got.pending:
		return "before the new generation was recorded"
	}
	return "with no RebuildAll under way"
}

// checkCrashAcks merges what a child acknowledged into acked, the highest
// version acknowledged per key, and checks that the file f holds each of
// them. The hot key's versions do not name its events, so the file must
// also hold its events exactly once: at least those the child acknowledged
// and at most those it submitted, on top of hot, the hot key's version
// before the child ran, which it then advances. It returns how many
// acknowledged events are missing.
func checkCrashAcks(t *testing.T, kill int, acked map[string]uint64, got crashAcks, f crashFile, hot *uint64) (lost uint64) {
	t.Helper()
	for k, v := range got.versions {
		acked[k] = max(acked[k], v)
	}
	for k, v := range acked {
		if f.stored[k] < v {
			lost += v - f.stored[k]
			t.Errorf("kill %d: key %s stored at version %d, but version %d was acknowledged", kill, k, f.stored[k], v)
		}
	}
	switch h := f.stored[crashHotKey]; {
	case h < *hot+got.hot:
		lost += *hot + got.hot - h
		t.Errorf("kill %d: hot key at version %d, but %d of its events were acknowledged", kill, h, *hot+got.hot)
	case h > *hot+got.tries:
		t.Errorf("kill %d: hot key at version %d, but only %d of its events were submitted", kill, h, *hot+got.tries)
	}
	*hot = f.stored[crashHotKey]
	return lost
}

// crashKill says when to kill a child, and whether it runs RebuildAll.
type crashKill struct {
	rebuildAll bool
	after      string        // the mark to wait for: "ack" (the first acknowledgement) or a phase
	delay      time.Duration // from the mark to the kill
}

// crashAcks is what one child acknowledged before it was killed.
type crashAcks struct {
	versions map[string]uint64 // highest acknowledged version per key
	events   uint64            // events acknowledged
	hot      uint64            // events of the hot key acknowledged
	tries    uint64            // events submitted to the hot key
	// rebuildAlls counts the RebuildAll calls that returned nil, generation
	// is the one the last of them switched to, and pending says one was
	// started after it.
	rebuildAlls, generation uint64
	pending                 bool
	mark                    string // the last phase of RebuildAll the child reached
}

// runCrashChild starts the child on path, kills it with SIGKILL kill.delay
// after it wrote the mark kill.after and returns everything it
// acknowledged.
func runCrashChild(t *testing.T, path string, seed uint64, kill crashKill) crashAcks {
	t.Helper()
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	if kill.rebuildAll {
		cmd.Env = append(cmd.Env, crashRebuildAllEnv+"=1")
	}
	cmd.ExtraFiles = []*os.File{pw} // fd 3 in the child
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	pw.Close() // the child holds the only write end: EOF once it is dead

	acks := crashAcks{versions: make(map[string]uint64)}
	reached := make(chan struct{})
	read := make(chan error, 1)
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mark, err := acks.parse(sc.Text())
			if err != nil {
				read <- err
				return
			}
			if mark == kill.after {
				once.Do(func() { close(reached) })
			}
		}
		read <- sc.Err()
	}()

	select {
	case <-reached:
		time.Sleep(kill.delay) // the crash lands at a random point after the mark
	case err := <-read:
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child ended before %q: %v\n%s", kill.after, err, stderr.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("no %q within 30s\n%s", kill.after, stderr.String())
	}
	_ = cmd.Process.Kill() // fails only if the child already ended, which is checked next
	werr := cmd.Wait()
	rerr := <-read
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != -1 { // -1: ended by a signal, as intended
		t.Fatalf("child ended with %v before the kill (acknowledgements: %v)\n%s", werr, rerr, stderr.String())
	}
	if rerr != nil {
		t.Fatalf("reading acknowledgements: %v\n%s", rerr, stderr.String())
	}
	return acks
}

// parse adds one line the child wrote to a and returns its mark: "ack" for
// an acknowledgement, the phase's name for a phase.
func (a *crashAcks) parse(line string) (string, error) {
	f := strings.Fields(line)
	switch {
	case len(f) == 4 && f[0] == "ack":
		v, err1 := strconv.ParseUint(f[2], 10, 64)
		n, err2 := strconv.ParseUint(f[3], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return "", err
		}
		a.versions[f[1]] = max(a.versions[f[1]], v)
		a.events += n
		if f[1] == crashHotKey {
			a.hot += n
		}
		return "ack", nil
	case len(f) == 1 && f[0] == "try":
		a.tries++
		return "", nil
	case len(f) == 2 && f[0] == "phase":
		a.mark = f[1]
		if f[1] == "rebuild" {
			a.pending = true
		}
		return f[1], nil
	case len(f) == 3 && f[0] == "phase" && f[1] == "rebuilt":
		g, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return "", err
		}
		a.mark, a.pending, a.generation = f[1], false, g
		a.rebuildAlls++
		return f[1], nil
	case len(f) == 2 && f[0] == "fail":
		return "", fmt.Errorf("child failed: %s", line)
	}
	return "", fmt.Errorf("child wrote %q", line)
}

// crashFile is what checkCrashFile found in the file a child left.
type crashFile struct {
	stored  map[string]uint64      // each key's version in the current generation
	current uint64                 // the current generation
	atKill  projection.Generations // the generation record as the kill left it
}

// crashGeneration returns the crash projection's generation whose
// snapshots bucket holds, and whether it holds one.
func crashGeneration(bucket string) (uint64, bool) {
	name := crashProjection{}.Name()
	if bucket == name {
		return 0, true
	}
	of, n, ok := projection.GenerationOf(bucket)
	return n, ok && of == name
}

// checkCrashFile opens the file left by a killed child and checks that it
// verifies clean, that a new runtime reads the generation the record names,
// that every snapshot is the fold of its key's events up to its version,
// and that once the runtime removed what the kill left behind, no
// generation but the current one holds a key.
func checkCrashFile(t *testing.T, path string) crashFile {
	t.Helper()
	ctx := ctxT(t)
	st, err := boltstore.Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()

	bad, err := st.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, bad, "damaged records after a kill")

	gens := func() projection.Generations {
		g, err := projection.ReadGenerations(ctx, st, crashProjection{}.Name())
		require.NoError(t, err)
		return g
	}
	f := crashFile{stored: make(map[string]uint64), atKill: gens()}
	f.current = f.atKill.Current
	rt, err := projection.New(st, nil, crashProjection{})
	require.NoError(t, err)
	defer rt.Close()
	require.Equal(t, f.current, rt.Stats().Generation, "the runtime reads another generation than the record names")

	keys := crashKeys()
	for kr, err := range st.Scan(ctx, f.atKill.Bucket) {
		require.NoError(t, err)
		require.Contains(t, keys, kr.Key, "a key no child wrote")
	}
	for _, k := range keys {
		snap, ok, err := rt.Read(ctx, k)
		require.NoError(t, err)
		if !ok {
			continue
		}
		require.Equal(t, crashFold(snap.Version), snap.State, "key %s at version %d", k, snap.Version)
		f.stored[k] = snap.Version
	}

	// New removes what the kill left in the background, and records that
	// it did once it is done.
	projectiontestWait(t, func() bool {
		g := gens()
		return g.Building == 0 && len(g.Leftover) == 0
	})
	require.Equal(t, f.current, gens().Current)
	buckets, err := st.Buckets(ctx)
	require.NoError(t, err)
	for _, b := range buckets {
		if g, ok := crashGeneration(b.Name); ok && g != f.current {
			require.Zero(t, b.Keys, "generation %d (bucket %q) left behind; %d is current (the kill left %+v)", g, b.Name, f.current, f.atKill)
		}
	}
	return f
}

// TestCrashChild is the child process of the kill tests, not a test of its
// own: it runs until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("only run as the child of TestCrash_KillDuringApplies or TestCrash_KillDuringRebuildAll")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	out := &crashOut{f: os.NewFile(3, "acks")}
	if err := crashChild(path, seed, os.Getenv(crashRebuildAllEnv) != "", out); err != nil {
		out.line("fail " + strings.ReplaceAll(err.Error(), " ", "_"))
		os.Exit(1)
	}
	os.Exit(2) // the child must be killed, never end by itself
}

// crashOut writes the child's lines unbuffered, so that a line written
// before the kill reaches the parent. A line is one of
//
//	ack KEY VERSION EVENTS  VERSION of KEY is durable; EVENTS more were acknowledged
//	try                     an event is submitted to the hot key
//	phase NAME              RebuildAll reached NAME: rebuild (about to be called), fold
//	                        (the source is read), folded (the source is folded), switched
//	phase rebuilt GEN       RebuildAll returned nil, generation GEN is current
//	fail ERROR              the child stops on an unexpected error
type crashOut struct {
	mu sync.Mutex // serialises lines
	f  *os.File
}

func (o *crashOut) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.f.WriteString(s + "\n")
}

func (o *crashOut) ack(key string, version, events uint64) {
	o.line("ack " + key + " " + strconv.FormatUint(version, 10) + " " + strconv.FormatUint(events, 10))
}

// crashChild applies, and with rebuildAll also runs RebuildAll, until the
// process is killed, or returns the first unexpected error.
func crashChild(path string, seed uint64, rebuildAll bool, out *crashOut) error {
	// Durable: every commit is synced. Half the children use the smallest
	// log, which many of them fold into the file before they are killed, so
	// kills also land around checkpoints; a quarter use the default log and
	// a quarter commit without one.
	opts := []boltstore.Option{boltstore.WithWALSize(64 << 10)}
	switch seed % 4 {
	case 1:
		opts = nil
	case 3:
		opts = []boltstore.Option{boltstore.WithoutWAL()}
	}
	st, err := boltstore.Open(path, opts...)
	if err != nil {
		return err
	}
	rt, err := projection.New(st, nil, crashProjection{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Hot events carry no position, so a RebuildAll's source must hold
	// exactly those committed before it starts collecting what is applied
	// meanwhile: hot applies wait, from before the call until the source
	// has read the hot key.
	var hot sync.RWMutex
	// Larger batches grow the histories fast enough for kills to land
	// inside the fold of a RebuildAll's source.
	batch := 6
	if rebuildAll {
		batch = 48
	}
	errs := make(chan error, crashOwners+1)
	for o := range crashOwners {
		go func() {
			errs <- crashOwner(ctx, rt, o, rand.New(rand.NewPCG(seed, uint64(o))), batch, &hot, out)
		}()
	}
	if rebuildAll {
		go func() {
			errs <- crashRebuilder(ctx, rt, rand.New(rand.NewPCG(seed, crashOwners)), &hot, out)
		}()
	}
	return <-errs
}

// crashOwner is one producer: it continues each of its keys from the stored
// version, first redelivering the stored last event, which must be a
// duplicate, then applies, batches and rebuilds at random, and applies to
// the hot key in between, holding hot for reading while it does.
func crashOwner(ctx context.Context, rt *projection.Runtime[crashEvent, crashState, uint64], o int, rng *rand.Rand, batch int, hot *sync.RWMutex, out *crashOut) error {
	keys := make([]string, crashKeysPer)
	next := make(map[string]uint64) // the next event number per key
	for i := range keys {
		keys[i] = fmt.Sprintf("o%d-k%d", o, i)
		snap, _, err := rt.Read(ctx, keys[i])
		if err != nil {
			return err
		}
		next[keys[i]] = snap.Version + 1
		if snap.Version > 0 {
			v, err := rt.Apply(ctx, crashEvent{Key: keys[i], N: snap.Version})
			if !errors.Is(err, projection.ErrDuplicate) || v != snap.Version {
				return fmt.Errorf("redelivered %s/%d = %d, %v; want ErrDuplicate at %d", keys[i], snap.Version, v, err, snap.Version)
			}
		}
	}
	for {
		key := keys[rng.IntN(len(keys))]
		switch op := rng.IntN(20); {
		case op < 3:
			hot.RLock()
			out.line("try")
			v, err := rt.Apply(ctx, crashEvent{Key: crashHotKey})
			hot.RUnlock()
			if err != nil {
				return err
			}
			out.ack(crashHotKey, v, 1)
		case op < 15:
			v, err := rt.Apply(ctx, crashEvent{Key: key, N: next[key]})
			if err != nil {
				return err
			}
			if v != next[key] {
				return fmt.Errorf("apply %s/%d returned version %d", key, next[key], v)
			}
			next[key]++
			out.ack(key, v, 1)
		case op < 18:
			// Up to batch events of several keys in one transaction.
			var evs []crashEvent
			counts := make(map[string]uint64)
			for range 1 + rng.IntN(batch) {
				k := keys[rng.IntN(len(keys))]
				evs = append(evs, crashEvent{Key: k, N: next[k] + counts[k]})
				counts[k]++
			}
			if err := rt.ApplyBatch(ctx, evs); err != nil {
				return err
			}
			for _, k := range slices.Sorted(maps.Keys(counts)) {
				next[k] += counts[k]
				out.ack(k, next[k]-1, counts[k])
			}
		default:
			// Replace the key with its full history plus a few new events:
			// a crash leaves either the old snapshot or the new one, and
			// both are consistent.
			extra := uint64(rng.IntN(3))
			to := next[key] - 1 + extra
			history := func(yield func(crashEvent) bool) {
				for n := uint64(1); n <= to; n++ {
					if !yield(crashEvent{Key: key, N: n}) {
						return
					}
				}
			}
			s, err := rt.Rebuild(ctx, key, history)
			if err != nil {
				return err
			}
			if s != crashFold(to) {
				return fmt.Errorf("rebuild %s to %d returned %+v", key, to, s)
			}
			next[key] = to + 1
			if to > 0 {
				out.ack(key, to, extra)
			}
		}
	}
}

// crashRebuilder runs RebuildAll again and again, from the history of every
// key as the runtime holds it when the source starts, while the owners keep
// applying. Each child draws its memory, batch and source order, so that
// some write states out and read them back many times and some hardly.
func crashRebuilder(ctx context.Context, rt *projection.Runtime[crashEvent, crashState, uint64], rng *rand.Rand, hot *sync.RWMutex, out *crashOut) error {
	opts := []projection.RebuildOption{
		projection.WithRebuildMemory([]int{1, 5, 64}[rng.IntN(3)]),
		projection.WithRebuildBatch([]int{16, 256}[rng.IntN(2)]),
		projection.WithProgress(func(p projection.RebuildProgress) {
			if p.Switched {
				out.line("phase switched")
			}
		}, time.Hour),
	}
	run := []uint64{64, 1 << 40}[rng.IntN(2)]
	for {
		// Spaced out, so that some kills land with no RebuildAll under way
		// and the removal of the previous generation runs on its own.
		time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
		out.line("phase rebuild")
		hot.Lock()
		release := sync.OnceFunc(hot.Unlock)
		err := rt.RebuildAll(ctx, crashSource(ctx, rt, release, run, out), opts...)
		release()
		if err != nil {
			return fmt.Errorf("RebuildAll: %w", err)
		}
		out.line("phase rebuilt " + strconv.FormatUint(rt.Stats().Generation, 10))
	}
}

// crashSource is the history of every key as rt holds it when the iteration
// starts: events 1 to its version of each key, in runs of run events per key
// taken in turn. It reads the hot key first and then calls release. The
// versions it read are committed, so it acknowledges them: whichever
// generation is current after a kill must hold them. A failure to read
// panics, which fails the RebuildAll.
func crashSource(ctx context.Context, rt *projection.Runtime[crashEvent, crashState, uint64], release func(), run uint64, out *crashOut) iter.Seq[crashEvent] {
	return func(yield func(crashEvent) bool) {
		keys := crashKeys() // the hot key first
		top := make([]uint64, len(keys))
		for i, k := range keys {
			snap, _, err := rt.Read(ctx, k)
			if err != nil {
				panic(fmt.Errorf("reading %s for the source: %w", k, err))
			}
			if k == crashHotKey {
				release()
			}
			top[i] = snap.Version
			if snap.Version > 0 {
				out.ack(k, snap.Version, 0)
			}
		}
		out.line("phase fold")
		for lo := uint64(1); ; lo += run {
			more := false
			for i, k := range keys {
				for n := lo; n <= top[i] && n-lo < run; n++ {
					if !yield(crashEvent{Key: k, N: n}) {
						return
					}
				}
				more = more || top[i] >= lo+run
			}
			if !more {
				break
			}
		}
		out.line("phase folded")
	}
}
