package pubsub_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/livefold/livefold/pubsub"
)

// Ensure that one goroutine's messages on one channel arrive in publish order,
// under every policy, including what survives DropOldest drops.
func TestPublish_OrderPerPublisher(t *testing.T) {
	const n = 5000
	for _, p := range []pubsub.Policy{pubsub.DropOldest, pubsub.DropNewest, pubsub.Block, pubsub.Disconnect} {
		t.Run(p.String(), func(t *testing.T) {
			b := newBus(t)
			buffer := 8
			if p == pubsub.Disconnect {
				buffer = n // a Disconnect subscriber must keep up to stay subscribed
			}
			var subs []*pubsub.Subscription[int]
			for range 3 {
				subs = append(subs, mustSubscribe[int](t, b, "o.*", pubsub.WithBuffer(buffer), pubsub.WithPolicy(p)))
			}
			var wg sync.WaitGroup
			counts := make([]int, len(subs))
			for i, s := range subs {
				wg.Go(func() {
					prev := -1
					for m := range s.C() {
						if m <= prev {
							t.Errorf("subscription %d received %d after %d", i, m, prev)
							return
						}
						prev = m
						counts[i]++
					}
				})
			}
			for i := range n {
				mustPublish(t, b, "o.x", i)
			}
			for _, s := range subs {
				s.Close()
			}
			wg.Wait()
			for i, s := range subs {
				if uint64(counts[i])+s.Dropped() != n {
					t.Errorf("subscription %d: received %d + dropped %d; want %d", i, counts[i], s.Dropped(), n)
				}
			}
		})
	}
}

// Ensure that delivering a value type to subscriptions with room allocates nothing.
func TestPublish_ZeroAllocs(t *testing.T) {
	type point struct{ X, Y, Z int64 }
	b := newBus(t)
	var subs []*pubsub.Subscription[point]
	for _, p := range []string{"p.a.b", "p.*.b", "p.>", ">", "*.a.*"} {
		for range 4 {
			subs = append(subs, mustSubscribe[point](t, b, p, pubsub.WithBuffer(1)))
		}
	}
	mustSubscribe[int](t, b, "p.a.b") // another type on the same channel
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		n, err := pubsub.Publish(ctx, b, "p.a.b", point{1, 2, 3})
		if n != len(subs) || err != nil {
			t.Fatalf("Publish = %d, %v; want %d, nil", n, err, len(subs))
		}
		for _, s := range subs {
			<-s.C()
		}
	})
	if allocs != 0 {
		t.Errorf("Publish to %d subscriptions allocated %v times per run; want 0", len(subs), allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() { pubsub.HasSubscribers(b, "p.a.b") }); allocs != 0 {
		t.Errorf("HasSubscribers allocated %v times per run; want 0", allocs)
	}
}

// Ensure that a subscription added to a pattern while others publish to it
// receives a message published after Subscribe returned, and that closing it
// meanwhile ends its C cleanly (run with -race: no send after the close).
func TestPublish_SubscribeAndCloseWhilePublishing(t *testing.T) {
	b := newBus(t)
	for range 20 {
		s := mustSubscribe[int](t, b, "w.*", pubsub.WithBuffer(4))
		go func() {
			for range s.C() {
			}
		}()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				pubsub.Publish(context.Background(), b, "w.x", p*1_000_000+i)
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for round := range 200 {
		// Block with a long timeout: the marker cannot be dropped.
		s := mustSubscribe[int](t, b, "w.*", pubsub.WithPolicy(pubsub.Block), pubsub.WithBlockTimeout(time.Minute))
		marker := -1 - round
		seen := make(chan bool)
		go func() {
			found := false
			for m := range s.C() {
				found = found || m == marker
			}
			seen <- found
		}()
		if n := mustPublish(t, b, "w.x", marker); n < 1 {
			t.Fatalf("round %d: Publish after Subscribe delivered %d; want at least 1", round, n)
		}
		s.Close()
		if !<-seen {
			t.Fatalf("round %d: the marker published after Subscribe returned did not arrive", round)
		}
		if s.Err() == nil {
			t.Fatalf("round %d: Err() = nil after Close", round)
		}
	}
}

// Ensure that a publisher waiting for room in a full Block subscription holds
// no lock of the bus: subscribing, publishing elsewhere and closing other
// subscriptions go on meanwhile.
func TestPublish_BlockWaitHoldsNoBusLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := pubsub.New()
		defer b.Close()
		full := mustSubscribe[int](t, b, "full", pubsub.WithBuffer(1),
			pubsub.WithPolicy(pubsub.Block), pubsub.WithBlockTimeout(time.Hour))
		mustPublish(t, b, "full", 1)
		published := make(chan int)
		go func() {
			n, _ := pubsub.Publish(context.Background(), b, "full", 2)
			published <- n
		}()
		synctest.Wait() // the publisher waits for room

		other := mustSubscribe[int](t, b, "other")
		if n := mustPublish(t, b, "other", 3); n != 1 {
			t.Errorf("Publish to another channel delivered %d; want 1", n)
		}
		other.Close()

		if got := <-full.C(); got != 1 {
			t.Fatalf("C gave %d; want 1", got)
		}
		if n := <-published; n != 1 {
			t.Errorf("blocked Publish delivered %d; want 1", n)
		}
		if got := <-full.C(); got != 2 {
			t.Errorf("C gave %d; want 2", got)
		}
	})
}
