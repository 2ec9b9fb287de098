package projection_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
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

// crashKills is how many times TestCrash_KillDuringApplies kills its child.
// The default keeps go test short; a long run is -crash.kills=500.
var crashKills = flag.Int("crash.kills", 20, "number of SIGKILLs in TestCrash_KillDuringApplies")

// The child side of the kill test is selected by these variables.
const (
	crashChildEnv = "LIVEFOLD_CRASH_CHILD" // the store's path
	crashSeedEnv  = "LIVEFOLD_CRASH_SEED"
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
	var events, lost uint64
	for kill := range *crashKills {
		got := runCrashChild(t, path, seed+uint64(kill), time.Duration(rng.IntN(60))*time.Millisecond)
		for k, v := range got.versions {
			acked[k] = max(acked[k], v)
		}
		events += got.events

		stored := checkCrashFile(t, path)
		for k, v := range acked {
			if stored[k] < v {
				lost += v - stored[k]
				t.Errorf("kill %d: key %s stored at version %d, but version %d was acknowledged", kill, k, stored[k], v)
			}
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("crash summary: kills %d, events acknowledged %d, events lost %d", *crashKills, events, lost)
	require.NotZero(t, events, "no child acknowledged anything")
}

// crashAcks is what one child acknowledged before it was killed.
type crashAcks struct {
	versions map[string]uint64 // highest acknowledged version per key
	events   uint64            // events acknowledged
}

// runCrashChild starts the child on path, kills it with SIGKILL delay after
// its first acknowledgement and returns everything it acknowledged.
func runCrashChild(t *testing.T, path string, seed uint64, delay time.Duration) crashAcks {
	t.Helper()
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	cmd.ExtraFiles = []*os.File{pw} // fd 3 in the child
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	pw.Close() // the child holds the only write end: EOF once it is dead

	acks := crashAcks{versions: make(map[string]uint64)}
	first := make(chan struct{})
	read := make(chan error, 1)
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "fail" {
				read <- fmt.Errorf("child failed: %s", sc.Text())
				return
			}
			if len(f) != 3 {
				read <- fmt.Errorf("child wrote %q", sc.Text())
				return
			}
			v, err1 := strconv.ParseUint(f[1], 10, 64)
			n, err2 := strconv.ParseUint(f[2], 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				read <- err
				return
			}
			acks.versions[f[0]] = max(acks.versions[f[0]], v)
			acks.events += n
			once.Do(func() { close(first) })
		}
		read <- sc.Err()
	}()

	select {
	case <-first:
		time.Sleep(delay) // the crash lands at a random point of the workload
	case err := <-read:
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child ended before its first acknowledgement: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("no acknowledgement within 30s\n%s", stderr.String())
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

// checkCrashFile opens the file left by a killed child and checks that it
// verifies clean and that every snapshot is the fold of its key's events up
// to its version. It returns the stored versions.
func checkCrashFile(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	ctx := ctxT(t)
	st, err := boltstore.Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()

	bad, err := st.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, bad, "damaged records after a kill")

	stored := make(map[string]uint64)
	keys := crashKeys()
	for kr, err := range st.Scan(ctx, crashProjection{}.Name()) {
		require.NoError(t, err)
		require.Contains(t, keys, kr.Key, "a key no child wrote")
	}
	rt, err := projection.New(st, nil, crashProjection{})
	require.NoError(t, err)
	defer rt.Close()
	for _, k := range keys {
		snap, ok, err := rt.Read(ctx, k)
		require.NoError(t, err)
		if !ok {
			continue
		}
		require.Equal(t, crashFold(snap.Version), snap.State, "key %s at version %d", k, snap.Version)
		stored[k] = snap.Version
	}
	return stored
}

// TestCrashChild is the child process of TestCrash_KillDuringApplies, not a
// test of its own: it runs until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("only run as the child of TestCrash_KillDuringApplies")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	out := &crashOut{f: os.NewFile(3, "acks")}
	if err := crashChild(path, seed, out); err != nil {
		out.line("fail " + strings.ReplaceAll(err.Error(), " ", "_"))
		os.Exit(1)
	}
	os.Exit(2) // the child must be killed, never end by itself
}

// crashOut writes acknowledgement lines unbuffered, so that a line written
// before the kill reaches the parent.
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
	o.line(key + " " + strconv.FormatUint(version, 10) + " " + strconv.FormatUint(events, 10))
}

// crashChild applies until the process is killed, or returns the first
// unexpected error.
func crashChild(path string, seed uint64, out *crashOut) error {
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

	errs := make(chan error, crashOwners)
	for o := range crashOwners {
		go func() {
			errs <- crashOwner(ctx, rt, o, rand.New(rand.NewPCG(seed, uint64(o))), out)
		}()
	}
	return <-errs
}

// crashOwner is one producer: it continues each of its keys from the stored
// version, first redelivering the stored last event, which must be a
// duplicate, then applies, batches and rebuilds at random, and applies to
// the hot key in between.
func crashOwner(ctx context.Context, rt *projection.Runtime[crashEvent, crashState, uint64], o int, rng *rand.Rand, out *crashOut) error {
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
			v, err := rt.Apply(ctx, crashEvent{Key: crashHotKey})
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
			// Several events of several keys in one transaction.
			var batch []crashEvent
			counts := make(map[string]uint64)
			for range 1 + rng.IntN(6) {
				k := keys[rng.IntN(len(keys))]
				batch = append(batch, crashEvent{Key: k, N: next[k] + counts[k]})
				counts[k]++
			}
			if err := rt.ApplyBatch(ctx, batch); err != nil {
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
