package pubsub_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/livefold/livefold/pubsub"
)

// BenchmarkPublish_FanOut publishes from one goroutine to n subscriptions on
// one channel, each drained by its own goroutine. deliveries/s counts messages
// that entered a buffer less those dropped (under DropOldest a buffered message
// can be evicted before it is received); Block drops nothing.
func BenchmarkPublish_FanOut(b *testing.B) {
	for _, policy := range []pubsub.Policy{pubsub.DropOldest, pubsub.Block} {
		for _, n := range []int{1, 10, 100, 1000} {
			b.Run(fmt.Sprintf("%v/subs=%d", policy, n), func(b *testing.B) {
				benchFanOut(b, policy, n)
			})
		}
	}
}

func benchFanOut(b *testing.B, policy pubsub.Policy, n int) {
	bus := pubsub.New()
	subs := make([]*pubsub.Subscription[int64], n)
	for i := range subs {
		subs[i] = mustSubscribe[int64](b, bus, "projection.orders.*", pubsub.WithBuffer(256), pubsub.WithPolicy(policy))
	}
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() {
			for range s.C() {
			}
		})
	}
	ctx := context.Background()
	delivered := 0
	b.ReportAllocs()
	b.ResetTimer()
	var i int64
	for b.Loop() {
		d, _ := pubsub.Publish(ctx, bus, "projection.orders.42", i)
		delivered += d
		i++
	}
	b.StopTimer()
	var dropped uint64
	for _, s := range subs {
		dropped += s.Dropped()
	}
	b.ReportMetric(float64(uint64(delivered)-dropped)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(dropped)/float64(b.N), "dropped/op")
	bus.Close()
	wg.Wait()
}

// BenchmarkPublish_IdleSubscriptions publishes to one subscription while
// 10,000 subscriptions wait on other channels (literal and wildcard), to show
// that their number does not change the cost of a Publish.
func BenchmarkPublish_IdleSubscriptions(b *testing.B) {
	for _, idle := range []int{0, 10000} {
		b.Run(fmt.Sprintf("idle=%d", idle), func(b *testing.B) {
			bus := pubsub.New()
			defer bus.Close()
			for i := range idle {
				pattern := fmt.Sprintf("projection.p%d.k%d", i%100, i)
				if i%10 == 0 {
					pattern = fmt.Sprintf("projection.p%d.*", i%100)
				}
				mustSubscribe[int64](b, bus, pattern)
			}
			s := mustSubscribe[int64](b, bus, "projection.orders.42", pubsub.WithBuffer(1))
			ctx := context.Background()
			b.ReportAllocs()
			var i int64
			for b.Loop() {
				pubsub.Publish(ctx, bus, "projection.orders.42", i)
				<-s.C()
				i++
			}
		})
	}
}

// BenchmarkHasSubscribers measures the interest check on a populated bus.
func BenchmarkHasSubscribers(b *testing.B) {
	bus := pubsub.New()
	defer bus.Close()
	for i := range 1000 {
		mustSubscribe[int](b, bus, fmt.Sprintf("projection.p%d.*", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		pubsub.HasSubscribers(bus, "projection.p500.k1")
	}
}

// BenchmarkBaseline_ChannelFanOut is the reference for FanOut/subs=100: plain
// buffered Go channel sends from one goroutine to 100 draining receivers, with
// no matching, locking or policy.
func BenchmarkBaseline_ChannelFanOut(b *testing.B) {
	const n = 100
	chans := make([]chan int64, n)
	var wg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan int64, 256)
		wg.Go(func() {
			for range chans[i] {
			}
		})
	}
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		for _, c := range chans {
			c <- i
		}
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
}
