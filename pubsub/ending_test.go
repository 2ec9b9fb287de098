package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/livefold/livefold/pubsub"
)

// Ensure that Close ends the subscription: Done and C are closed, Err says
// ErrUnsubscribed, buffered messages are still received, nothing more arrives,
// and a second Close is harmless.
func TestSubscription_Close_EndsCleanly(t *testing.T) {
	b := newBus(t)
	s := mustSubscribe[int](t, b, "a.b")
	if s.Err() != nil {
		t.Fatalf("Err() of a live subscription = %v; want nil", s.Err())
	}
	if s.Pattern() != "a.b" {
		t.Errorf("Pattern() = %q; want a.b", s.Pattern())
	}
	mustPublish(t, b, "a.b", 1)
	s.Close()
	s.Close()
	select {
	case <-s.Done():
	default:
		t.Fatal("Done() not closed after Close")
	}
	if !errors.Is(s.Err(), pubsub.ErrUnsubscribed) {
		t.Errorf("Err() = %v; want ErrUnsubscribed", s.Err())
	}
	if got := mustPublish(t, b, "a.b", 2); got != 0 {
		t.Errorf("Publish after Close delivered %d; want 0", got)
	}
	if got := drain(t, s); !slices.Equal(got, []int{1}) {
		t.Errorf("C yielded %v; want [1]", got)
	}
	if pubsub.HasSubscribers(b, "a.b") {
		t.Error("closed subscription is still indexed")
	}
}

// Ensure that cancelling the subscription's context ends it with ctx's error.
func TestSubscription_CtxCancel_Ends(t *testing.T) {
	b := newBus(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := pubsub.Subscribe[int](ctx, b, "a")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-s.Done()
	if got := drain(t, s); got != nil {
		t.Errorf("C yielded %v; want nothing", got)
	}
	if !errors.Is(s.Err(), context.Canceled) {
		t.Errorf("Err() = %v; want context.Canceled", s.Err())
	}
	if pubsub.HasSubscribers(b, "a") {
		t.Error("subscription with a cancelled context is still indexed")
	}
	s.Close()
	if !errors.Is(s.Err(), context.Canceled) {
		t.Errorf("Err() after a later Close = %v; want context.Canceled (the first reason)", s.Err())
	}
}

// Ensure that Subscribe with a context that is already done fails with its error.
func TestSubscribe_CtxAlreadyDone(t *testing.T) {
	b := newBus(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := pubsub.Subscribe[int](ctx, b, "a")
	if !errors.Is(err, context.Canceled) || s != nil {
		t.Errorf("Subscribe = %v, %v; want nil, context.Canceled", s, err)
	}
	if pubsub.HasSubscribers(b, "a") {
		t.Error("failed Subscribe left a subscription behind")
	}
}

// Ensure that closing the bus ends every subscription with ErrBusClosed, and
// that later calls fail with ErrClosed.
func TestBus_Close_EndsEverything(t *testing.T) {
	b := pubsub.New()
	s1 := mustSubscribe[int](t, b, "a")
	s2 := mustSubscribe[string](t, b, ">")
	mustPublish(t, b, "a", 5)
	b.Close()
	b.Close()
	for _, s := range []interface {
		Err() error
		Done() <-chan struct{}
	}{s1, s2} {
		<-s.Done()
		if !errors.Is(s.Err(), pubsub.ErrBusClosed) {
			t.Errorf("Err() = %v; want ErrBusClosed", s.Err())
		}
	}
	if got := drain(t, s1); !slices.Equal(got, []int{5}) {
		t.Errorf("C yielded %v; want [5]", got)
	}
	if _, err := pubsub.Subscribe[int](context.Background(), b, "a"); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Subscribe after Close = %v; want ErrClosed", err)
	}
	if n, err := pubsub.Publish(context.Background(), b, "a", 1); !errors.Is(err, pubsub.ErrClosed) || n != 0 {
		t.Errorf("Publish after Close = %d, %v; want 0, ErrClosed", n, err)
	}
	s1.Close()
	if !errors.Is(s1.Err(), pubsub.ErrBusClosed) {
		t.Errorf("Err() after a later Close = %v; want ErrBusClosed", s1.Err())
	}
}

// Ensure that a subscriber can close its own subscription, and the bus, from
// inside its receive loop.
func TestSubscription_CloseFromReceiveLoop(t *testing.T) {
	for _, which := range []string{"subscription", "bus"} {
		t.Run(which, func(t *testing.T) {
			b := newBus(t)
			s := mustSubscribe[int](t, b, "a")
			done := make(chan []int)
			go func() {
				var got []int
				for m := range s.C() {
					got = append(got, m)
					if m == 2 {
						if which == "bus" {
							b.Close()
						} else {
							s.Close()
						}
					}
				}
				done <- got
			}()
			for i := 1; i <= 2; i++ {
				mustPublish(t, b, "a", i)
			}
			got := <-done
			if !slices.Equal(got, []int{1, 2}) {
				t.Errorf("receive loop saw %v; want [1 2]", got)
			}
			if s.Err() == nil {
				t.Error("Err() = nil after the loop ended")
			}
		})
	}
}

// Ensure that a subscriber can publish from inside its receive loop, also to
// its own channel, without deadlock (the fault of buses that hold a lock while
// calling handlers).
func TestSubscription_PublishFromReceiveLoop(t *testing.T) {
	b := newBus(t)
	s := mustSubscribe[int](t, b, "count.*", pubsub.WithBuffer(1))
	done := make(chan int)
	go func() {
		last := 0
		for m := range s.C() {
			last = m
			if m == 100 {
				break
			}
			// Publish to our own channel while our buffer may be full: with
			// DropOldest this never waits, and the newest value survives.
			if _, err := pubsub.Publish(context.Background(), b, "count.self", m+1); err != nil {
				t.Errorf("Publish from the receive loop = %v", err)
				break
			}
		}
		done <- last
	}()
	mustPublish(t, b, "count.start", 1)
	if got := <-done; got != 100 {
		t.Errorf("loop ended at %d; want 100", got)
	}
}

// Ensure that every way of ending races cleanly with publishers: no panic, no
// deadlock, every subscription ends with one reason and its C is closed.
// Run with -race.
func TestBus_ConcurrentPublishAndClose_Hammer(t *testing.T) {
	const rounds = 20
	for round := range rounds {
		b := pubsub.New()
		policies := []pubsub.Policy{pubsub.DropOldest, pubsub.DropNewest, pubsub.Block, pubsub.Disconnect}
		var subs []*pubsub.Subscription[int]
		var cancels []context.CancelFunc
		for i := range 40 {
			ctx, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			pattern := []string{"h.*", "h.>", fmt.Sprintf("h.%d", i%4), ">"}[i%4]
			s, err := pubsub.Subscribe[int](ctx, b, pattern, pubsub.WithBuffer(1+i%3),
				pubsub.WithPolicy(policies[i%len(policies)]), pubsub.OnDrop(func(string, int) {}))
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, s)
		}

		var wg sync.WaitGroup
		// Receivers: some drain, some close from inside the loop.
		for i, s := range subs {
			wg.Go(func() {
				n := 0
				for range s.C() {
					n++
					if i%5 == 0 && n == 3 {
						s.Close()
					}
				}
			})
		}
		stop := make(chan struct{})
		var warm sync.WaitGroup // done when every publisher is well under way
		warm.Add(4)
		// Publishers run until the bus is closed.
		for p := range 4 {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				for j := 0; ; j++ {
					if j == 200 {
						warm.Done()
					}
					_, err := pubsub.Publish(ctx, b, fmt.Sprintf("h.%d", (p+j)%4), j)
					if errors.Is(err, pubsub.ErrClosed) {
						if j < 200 {
							warm.Done()
						}
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			})
		}
		// Enders: cancel some contexts, close others, subscribe and close anew.
		wg.Go(func() {
			for i := range subs {
				switch i % 3 {
				case 0:
					cancels[i]()
				case 1:
					subs[i].Close()
				}
				if s, err := pubsub.Subscribe[int](context.Background(), b, "h.>"); err == nil {
					s.Close()
				}
			}
		})
		warm.Wait()
		if round%2 == 0 {
			b.Close()
		} else {
			wg.Go(b.Close)
		}
		close(stop)
		wg.Wait()
		for i, s := range subs {
			select {
			case <-s.Done():
			default:
				t.Fatalf("round %d: subscription %d still live after the bus closed", round, i)
			}
			if s.Err() == nil {
				t.Fatalf("round %d: subscription %d ended with a nil Err", round, i)
			}
			if _, ok := <-s.C(); ok {
				t.Fatalf("round %d: subscription %d: C not closed", round, i)
			}
		}
		for _, c := range cancels {
			c()
		}
	}
}
