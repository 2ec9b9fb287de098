package multiprocess_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/projection"
)

// durationEnv makes the run longer than defaultDuration.
const (
	durationEnv     = "LIVEFOLD_MULTIPROCESS_DURATION"
	defaultDuration = 3 * time.Second
	writers         = 3
	// waitTimeout guards every wait for a child, so that a hung one fails
	// the test instead of hanging it. It is no assertion about speed.
	waitTimeout = time.Minute
)

// Ensure that projection runtimes in several processes on one database keep
// every acknowledged event, fold each exactly once, and keep a subscriber
// in another process up to date: three writer processes apply to
// overlapping keys (a hot key included), each killed with SIGKILL and
// restarted at random and redelivering events on restart; then every key's
// snapshot must be the fold of exactly its events 1..version, no older than
// any acknowledged event, and the last update the subscriber received of
// each key must be that snapshot.
func TestRuntime_SeveralProcesses(t *testing.T) {
	if os.Getenv(roleEnv) != "" {
		t.Skip("running as a child")
	}
	url := pgURL(t)
	duration := defaultDuration
	if s := os.Getenv(durationEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", durationEnv, s, err)
		}
		duration = d
	}
	table := newTable(t)
	ctx := t.Context()
	// The table exists before the children open it.
	st, err := pgstore.Open(ctx, url, pgstore.WithTable(table))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer st.Close()

	seed := rand.Uint64()
	t.Logf("seed %d, %v of kills", seed, duration)
	rng := rand.New(rand.NewPCG(seed, 0))

	seen := newUpdates()
	sub := start(t, table, "subscriber", 0, seen.record)
	defer sub.kill(t)
	select {
	case <-seen.ready:
	case <-sub.ended:
		t.Fatalf("the subscriber ended before it was ready: %v\n%s", sub.err, sub.output())
	case <-time.After(waitTimeout):
		t.Fatalf("the subscriber was not ready within %v\n%s", waitTimeout, sub.output())
	}

	acked := newAcks()
	var procs [writers]*child
	for i := range procs {
		procs[i] = start(t, table, "writer", seed+uint64(i), acked.record)
	}
	kills := 0
	for end := time.Now().Add(duration); time.Now().Before(end); kills++ {
		// The kill lands at a random point of the writers' work.
		time.Sleep(time.Duration(100+rng.IntN(500)) * time.Millisecond)
		i := rng.IntN(writers)
		procs[i].kill(t)
		procs[i] = start(t, table, "writer", seed+uint64(writers*(kills+1)+i), acked.record)
	}
	for _, p := range procs {
		p.kill(t)
	}

	final := checkSnapshots(t, st, acked.snapshot())
	if t.Failed() {
		return
	}
	updates := seen.await(t, final, sub)
	var events uint64
	for _, n := range acked.snapshot() {
		events += n
	}
	t.Logf("kills %d, events acknowledged %d (hot key %d), updates the subscriber received %d",
		kills, events, acked.snapshot()[hotKey], updates)
}

// checkSnapshots checks every key's snapshot against the acknowledged
// events and returns the stored versions.
func checkSnapshots(t *testing.T, st *pgstore.Store, acked map[string]uint64) map[string]uint64 {
	t.Helper()
	rt, err := projection.New(st, nil, proj{})
	if err != nil {
		t.Fatalf("projection.New = %v", err)
	}
	defer rt.Close()
	final := make(map[string]uint64)
	for _, k := range keys() {
		snap, _, err := rt.Read(t.Context(), k)
		switch {
		case err != nil:
			t.Fatalf("Read(%s) = %v", k, err)
		case snap.Version < acked[k]:
			t.Errorf("key %s stored at version %d, but event %d was acknowledged", k, snap.Version, acked[k])
		case snap.State != foldTo(snap.Version):
			t.Errorf("key %s at version %d holds %+v; want the fold of events 1..%d once each, %+v",
				k, snap.Version, snap.State, snap.Version, foldTo(snap.Version))
		}
		final[k] = snap.Version
	}
	return final
}

// acks is the highest event each key's writers acknowledged.
type acks struct {
	mu sync.Mutex // guards n
	n  map[string]uint64
}

func newAcks() *acks { return &acks{n: make(map[string]uint64)} }

// record reads a writer's line.
func (a *acks) record(f []string) error {
	if len(f) != 3 || f[0] != "ack" {
		return fmt.Errorf("unexpected line %q", strings.Join(f, " "))
	}
	n, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.n[f[1]] = max(a.n[f[1]], n)
	a.mu.Unlock()
	return nil
}

func (a *acks) snapshot() map[string]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[string]uint64, len(a.n))
	for k, v := range a.n {
		m[k] = v
	}
	return m
}

// updates is the last update of each key the subscriber reported.
type updates struct {
	ready     chan struct{} // closed when the subscriber is ready
	readyOnce sync.Once
	changed   chan struct{} // signalled (capacity 1) on each update

	mu    sync.Mutex // guards last, count
	last  map[string][2]uint64
	count int
}

func newUpdates() *updates {
	return &updates{ready: make(chan struct{}), changed: make(chan struct{}, 1), last: make(map[string][2]uint64)}
}

// record reads a subscriber's line.
func (u *updates) record(f []string) error {
	switch {
	case len(f) == 1 && f[0] == "ready":
		u.readyOnce.Do(func() { close(u.ready) })
		return nil
	case len(f) != 4 || f[0] != "update":
		return fmt.Errorf("unexpected line %q", strings.Join(f, " "))
	}
	v, err1 := strconv.ParseUint(f[2], 10, 64)
	h, err2 := strconv.ParseUint(f[3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	u.mu.Lock()
	u.last[f[1]] = [2]uint64{v, h}
	u.count++
	u.mu.Unlock()
	select {
	case u.changed <- struct{}{}:
	default:
	}
	return nil
}

// await waits until the subscriber's last update of every key is its final
// snapshot, and returns how many updates it reported.
func (u *updates) await(t *testing.T, final map[string]uint64, sub *child) int {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		u.mu.Lock()
		var behind []string
		for k, v := range final {
			if v == 0 {
				continue
			}
			if got := u.last[k]; got != [2]uint64{v, foldTo(v).Hash} {
				behind = append(behind, fmt.Sprintf("%s: last update version %d hash %d, stored version %d hash %d",
					k, got[0], got[1], v, foldTo(v).Hash))
			}
		}
		count := u.count
		u.mu.Unlock()
		if len(behind) == 0 {
			return count
		}
		select {
		case <-u.changed:
		case <-sub.ended:
			t.Fatalf("the subscriber ended: %v\n%s", sub.err, sub.output())
		case <-timeout:
			t.Fatalf("the subscriber did not converge within %v:\n%s", waitTimeout, strings.Join(behind, "\n"))
		}
	}
}

// child is a running child process.
type child struct {
	cmd *exec.Cmd
	// ended is closed when its report ended; err is then nil at EOF (the
	// child is dead), or what was wrong with the report.
	ended chan struct{}
	err   error

	mu  sync.Mutex // guards out, which the child's stdout and stderr fill
	out bytes.Buffer
}

func (c *child) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// start runs this test binary as a child in role, handing each line it
// reports to record.
func start(t *testing.T, table, role string, seed uint64, record func([]string) error) *child {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{ended: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	c.cmd.Env = append(os.Environ(), roleEnv+"="+role, tableEnv+"="+table, seedEnv+"="+strconv.FormatUint(seed, 10))
	c.cmd.ExtraFiles = []*os.File{pw} // fd 3 in the child
	c.cmd.Stdout, c.cmd.Stderr = c, c
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close() // the child holds the only write end: EOF once it is dead
	// A test that fails midway leaves no child running.
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
		<-c.ended
	})
	go func() {
		defer close(c.ended)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 0 && f[0] == "fail" {
				c.err = fmt.Errorf("%s failed: %s", role, sc.Text())
				return
			}
			if err := record(f); err != nil {
				c.err = fmt.Errorf("%s: %w", role, err)
				return
			}
		}
		c.err = sc.Err()
	}()
	return c
}

// kill ends the child with SIGKILL, unless done already, and fails t if it
// had ended by itself or reported something wrong.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if c.cmd.ProcessState != nil {
		return // killed before
	}
	_ = c.cmd.Process.Kill() // fails only if it already ended, which is checked next
	werr := c.cmd.Wait()
	var rerr error
	select {
	case <-c.ended:
		rerr = c.err
	case <-time.After(waitTimeout):
		rerr = errors.New("its report did not end")
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != -1 { // -1: ended by a signal, as intended
		t.Fatalf("child ended with %v before the kill (%v)\n%s", werr, rerr, c.output())
	}
	if rerr != nil {
		t.Fatalf("child: %v\n%s", rerr, c.output())
	}
}
