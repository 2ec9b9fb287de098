package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	cskr "github.com/cskr/pubsub/v2"
	"github.com/livefold/livefold/pubsub"
)

// The buses compared, as the table names them.
const (
	livefoldBus = "livefold-pubsub"
	peerBus     = "cskr-pubsub"
)

const (
	fanChannel  = "bench.fan.out"
	hotChannel  = "bench.hot.k"
	busBuffer   = 256
	busDeadline = 30 * time.Second // longest wait for subscribers after publishing
)

// wiredBus is a bus with its subscriptions made, as one cell uses it.
type wiredBus struct {
	publish func(v int64) error
	subs    []<-chan int64 // closed when the bus closes
	check   func() error   // after the run, e.g. that nothing was dropped
	close   func()
}

func (h *harness) fanout(ctx context.Context) {
	h.section("bus fan-out from one publisher")
	for _, n := range []int{1, 10, 100, 1000} {
		msgs := max(100, h.cfg.fanoutTotal/n)
		workload := fmt.Sprintf("fan-out 1 -> %d subscribers", n)
		h.fanCell(workload, livefoldBus, n, msgs, func() (wiredBus, error) { return livefoldFan(ctx, n) })
		h.fanCell(workload, peerBus, n, msgs, func() (wiredBus, error) { return cskrFan(n), nil })
	}
}

// fanCell publishes msgs messages from one goroutine and times until every
// subscriber has received all of them; each subscriber checks that they
// arrive complete and in order. It counts heap allocations per delivery over
// the same window.
func (h *harness) fanCell(workload, name string, n, msgs int, open func() (wiredBus, error)) {
	b, err := open()
	if err != nil {
		h.fail(workload, name, err)
		return
	}
	errs := make([]error, len(b.subs))
	var wg sync.WaitGroup
	for i, c := range b.subs {
		wg.Go(func() {
			want := int64(0)
			for want < int64(msgs) {
				v, ok := <-c
				if !ok {
					errs[i] = fmt.Errorf("subscriber %d: ended after %d of %d messages", i, want, msgs)
					return
				}
				if v != want && errs[i] == nil {
					errs[i] = fmt.Errorf("subscriber %d: got message %d, want %d", i, v, want)
				}
				want++
			}
		})
	}
	allocs0 := mallocs()
	clock := startCPU()
	var pubErr error
	for i := range msgs {
		if pubErr = b.publish(int64(i)); pubErr != nil {
			break
		}
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(h.busWait):
		pubErr = errors.Join(pubErr, fmt.Errorf("subscribers still waiting %v after the last publish", h.busWait))
	}
	elapsed := time.Since(clock.wall)
	cores := clock.cores()
	allocs := float64(mallocs()-allocs0) / float64(n*msgs)
	b.close() // ends subscribers still waiting, so the waiter above ends
	<-finished

	if err := errors.Join(pubErr, firstErrors(nonNil(errs)), b.check()); err != nil {
		h.fail(workload, name, err)
	}
	h.record(row{group: "fanout", workload: workload, system: name,
		value: float64(n*msgs) / elapsed.Seconds(), unit: "deliveries/s", cpu: cores, allocs: allocs,
		note: fmt.Sprintf("%.3f allocs/delivery, %d messages", allocs, msgs)})
}

func nonNil(errs []error) []error {
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// livefoldFan subscribes n times with the Block policy, so that a full
// buffer makes the publisher wait instead of dropping: the cell then measures
// delivery of every message, like the peer's blocking Pub.
func livefoldFan(ctx context.Context, n int) (wiredBus, error) {
	bus := pubsub.New()
	var subs []*pubsub.Subscription[int64]
	b := wiredBus{close: bus.Close}
	for range n {
		s, err := pubsub.Subscribe[int64](ctx, bus, fanChannel, pubsub.WithBuffer(busBuffer),
			pubsub.WithPolicy(pubsub.Block), pubsub.WithBlockTimeout(busDeadline))
		if err != nil {
			bus.Close()
			return wiredBus{}, err
		}
		subs = append(subs, s)
		b.subs = append(b.subs, s.C())
	}
	b.publish = func(v int64) error {
		d, err := pubsub.Publish(ctx, bus, fanChannel, v)
		if err == nil && d != n {
			err = fmt.Errorf("message %d entered %d buffers, want %d", v, d, n)
		}
		return err
	}
	b.check = func() error {
		for i, s := range subs {
			if d := s.Dropped(); d != 0 {
				return fmt.Errorf("subscription %d dropped %d messages", i, d)
			}
		}
		return nil
	}
	return b, nil
}

// cskrFan subscribes n channels to one topic; its Pub waits for room in
// every channel.
func cskrFan(n int) wiredBus {
	ps := cskr.New[string, int64](busBuffer)
	b := wiredBus{close: ps.Shutdown, check: func() error { return nil }}
	for range n {
		b.subs = append(b.subs, ps.Sub(fanChannel))
	}
	b.publish = func(v int64) error {
		ps.Pub(v, fanChannel)
		return nil
	}
	return b
}

func (h *harness) idle(ctx context.Context) {
	n := h.cfg.idleSubs
	h.section(fmt.Sprintf("publish and receive with %d idle subscriptions on other channels", n))
	for _, idle := range []int{0, n} {
		workload := fmt.Sprintf("publish+receive, %d idle subscriptions", idle)
		h.idleCell(workload, livefoldBus, func() (wiredBus, error) { return livefoldIdle(ctx, idle) })
		h.idleCell(workload, peerBus, func() (wiredBus, error) { return cskrIdle(idle), nil })
	}
}

// idleCell publishes one message and receives it in the same goroutine, for
// the configured duration, and reports the cost of one round.
func (h *harness) idleCell(workload, name string, open func() (wiredBus, error)) {
	b, err := open()
	if err != nil {
		h.fail(workload, name, err)
		return
	}
	defer b.close()
	recv := b.subs[0]
	allocs0 := mallocs()
	clock := startCPU()
	deadline := clock.wall.Add(h.cfg.duration)
	rounds := 0
	for i := int64(0); ; i++ {
		if i&255 == 0 && time.Now().After(deadline) {
			break
		}
		if err := b.publish(i); err != nil {
			h.fail(workload, name, err)
			break
		}
		if v := <-recv; v != i {
			h.fail(workload, name, fmt.Errorf("received %d, want %d", v, i))
			break
		}
		rounds++
	}
	elapsed := time.Since(clock.wall)
	allocs := float64(mallocs()-allocs0) / float64(max(rounds, 1))
	if err := b.check(); err != nil {
		h.fail(workload, name, err)
	}
	h.record(row{group: "idle", workload: workload, system: name,
		value: float64(elapsed.Nanoseconds()) / float64(max(rounds, 1)), unit: "ns/publish", cpu: clock.cores(), allocs: allocs,
		note: fmt.Sprintf("%.2f allocs/publish", allocs)})
}

// livefoldIdle makes idle subscriptions beside the hot channel, half of them
// siblings of it in the channel tree and half wildcards elsewhere, then one
// subscription on the hot channel, returned first in subs.
func livefoldIdle(ctx context.Context, idle int) (wiredBus, error) {
	bus := pubsub.New()
	for i := range idle {
		pattern := fmt.Sprintf("bench.hot.k%d", i)
		if i%2 == 1 {
			pattern = fmt.Sprintf("bench.p%d.*", i)
		}
		if _, err := pubsub.Subscribe[int64](ctx, bus, pattern, pubsub.WithBuffer(1)); err != nil {
			bus.Close()
			return wiredBus{}, err
		}
	}
	s, err := pubsub.Subscribe[int64](ctx, bus, hotChannel, pubsub.WithBuffer(1))
	if err != nil {
		bus.Close()
		return wiredBus{}, err
	}
	return wiredBus{
		subs: []<-chan int64{s.C()},
		publish: func(v int64) error {
			d, err := pubsub.Publish(ctx, bus, hotChannel, v)
			if err == nil && d != 1 {
				err = fmt.Errorf("message %d entered %d buffers, want 1", v, d)
			}
			return err
		},
		check: func() error { return nil },
		close: bus.Close,
	}, nil
}

// cskrIdle makes idle subscriptions on other topics, then one on the hot
// topic.
func cskrIdle(idle int) wiredBus {
	ps := cskr.New[string, int64](1)
	for i := range idle {
		ps.Sub(fmt.Sprintf("bench.hot.k%d", i))
	}
	c := ps.Sub(hotChannel)
	return wiredBus{
		subs:    []<-chan int64{c},
		publish: func(v int64) error { ps.Pub(v, hotChannel); return nil },
		check:   func() error { return nil },
		close:   ps.Shutdown,
	}
}
