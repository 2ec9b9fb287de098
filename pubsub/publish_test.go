package pubsub_test

import (
	"context"
	"sync"
	"testing"

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
