package multiprocess_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// The child processes are selected by these variables.
const (
	roleEnv  = "LIVEFOLD_MULTIPROCESS_ROLE" // writer or subscriber
	tableEnv = "LIVEFOLD_MULTIPROCESS_TABLE"
	seedEnv  = "LIVEFOLD_MULTIPROCESS_SEED"
)

// writerGoroutines is how many goroutines of each writer apply at once.
const writerGoroutines = 4

// TestChild is a child process of TestRuntime_SeveralProcesses, not a test
// of its own: it runs until it is killed. It reports on file descriptor 3,
// a line at a time:
//
//	ack KEY N        (writer) events 1..N of KEY are folded
//	ready            (subscriber) its subscription hears other processes
//	update KEY V H   (subscriber) an update of KEY at version V, state hash H
//	fail MESSAGE     an unexpected error; the child then exits
func TestChild(t *testing.T) {
	role := os.Getenv(roleEnv)
	if role == "" {
		t.Skip("only run as a child of TestRuntime_SeveralProcesses")
	}
	out := &reporter{f: os.NewFile(3, "report")}
	seed, _ := strconv.ParseUint(os.Getenv(seedEnv), 10, 64)
	var err error
	switch role {
	case "writer":
		err = writer(os.Getenv("LIVEFOLD_PG_URL"), os.Getenv(tableEnv), seed, out)
	case "subscriber":
		err = subscriber(os.Getenv("LIVEFOLD_PG_URL"), os.Getenv(tableEnv), out)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	out.line("fail " + strings.ReplaceAll(fmt.Sprint(err), "\n", " "))
	os.Exit(1) // a child must be killed, never end by itself
}

// reporter writes report lines unbuffered, so that a line written before a
// kill reaches the parent.
type reporter struct {
	mu sync.Mutex // serialises lines
	f  *os.File
}

func (r *reporter) line(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.f.WriteString(s + "\n")
}

// runtime opens a Store on table and a runtime with a bus of its own, as a
// process serving live updates has.
func runtime(ctx context.Context, url, table string) (*projection.Runtime[event, state, uint64], error) {
	st, err := pgstore.Open(ctx, url, pgstore.WithTable(table))
	if err != nil {
		return nil, err
	}
	return projection.New(st, pubsub.New(), proj{})
}

// writer applies events to every key until the process is killed. First it
// redelivers the last event folded of each key, which must be refused as a
// duplicate; then each goroutine delivers, again and again, the next event
// of a key after the one it last read, which another writer may have folded
// meanwhile (a duplicate) or not, one event at a time or several in a
// batch. The events of a key are numbered by its stream, whoever delivers
// them, so every event is delivered at least once and must be folded once.
func writer(url, table string, seed uint64, out *reporter) error {
	ctx := context.Background()
	rt, err := runtime(ctx, url, table)
	if err != nil {
		return err
	}
	for _, k := range keys() {
		snap, _, err := rt.Read(ctx, k)
		if err != nil {
			return err
		}
		if snap.Version == 0 {
			continue
		}
		if _, err := rt.Apply(ctx, event{Key: k, N: snap.Version}); !errors.Is(err, projection.ErrDuplicate) {
			return fmt.Errorf("redelivered %s/%d: %v; want ErrDuplicate", k, snap.Version, err)
		}
	}
	errs := make(chan error, writerGoroutines)
	for g := range writerGoroutines {
		go func() {
			errs <- deliver(ctx, rt, rand.New(rand.NewPCG(seed, uint64(g))), out)
		}()
	}
	return <-errs
}

// deliver is one goroutine of a writer.
func deliver(ctx context.Context, rt *projection.Runtime[event, state, uint64], rng *rand.Rand, out *reporter) error {
	all := keys()
	for {
		key := hotKey
		if rng.IntN(2) == 0 {
			key = all[1+rng.IntN(otherKeys)]
		}
		snap, _, err := rt.Read(ctx, key)
		if err != nil {
			return err
		}
		next := snap.Version + 1
		if rng.IntN(5) > 0 {
			_, err := rt.Apply(ctx, event{Key: key, N: next})
			switch {
			case errors.Is(err, projection.ErrDuplicate):
				continue
			case err != nil:
				return fmt.Errorf("apply %s/%d: %w", key, next, err)
			}
			out.line(fmt.Sprintf("ack %s %d", key, next))
			continue
		}
		// A run of events, of which others may have folded the first.
		n := uint64(2 + rng.IntN(4))
		batch := make([]event, n)
		for i := range batch {
			batch[i] = event{Key: key, N: next + uint64(i)}
		}
		if err := rt.ApplyBatch(ctx, batch); err != nil {
			return fmt.Errorf("apply batch %s/%d..%d: %w", key, next, next+n-1, err)
		}
		out.line(fmt.Sprintf("ack %s %d", key, next+n-1))
	}
}

// subscriber subscribes to every key and reports every update until the
// process is killed. Before it reports ready it makes sure its runtime
// hears other processes' commits: a second Store, which is another process
// as far as the first is concerned, applies to a probe key until the
// subscription reports it.
func subscriber(url, table string, out *reporter) error {
	ctx := context.Background()
	rt, err := runtime(ctx, url, table)
	if err != nil {
		return err
	}
	sub, err := rt.SubscribeAll(ctx, projection.WithInitialState())
	if err != nil {
		return err
	}
	probe, err := runtime(ctx, url, table)
	if err != nil {
		return err
	}
	var probed uint64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ready := false; ; {
		select {
		case u, ok := <-sub.C():
			if !ok {
				return fmt.Errorf("subscription ended: %w", sub.Err())
			}
			if u.Key == probeKey {
				if !ready && u.Version > 0 {
					ready = true
					out.line("ready")
				}
				continue
			}
			out.line(fmt.Sprintf("update %s %d %d", u.Key, u.Version, u.State.Hash))
		case <-tick.C:
			if ready {
				tick.Stop()
				continue
			}
			probed++
			if _, err := probe.Apply(ctx, event{Key: probeKey, N: probed}); err != nil {
				return fmt.Errorf("probe: %w", err)
			}
		}
	}
}

// probeKey is the key the subscriber's probe applies to; no writer does.
const probeKey = "probe"
