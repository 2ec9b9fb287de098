package pubsub_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/livefold/livefold/pubsub"
)

// dropLog records OnDrop calls.
type dropLog struct {
	mu   sync.Mutex // guards msgs
	msgs []int
}

func (d *dropLog) record(_ string, m int) {
	d.mu.Lock()
	d.msgs = append(d.msgs, m)
	d.mu.Unlock()
}

func (d *dropLog) get() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.msgs)
}

// Ensure that DropOldest keeps the newest messages, in order, and counts and
// reports the ones it discards.
func TestPolicy_DropOldest_KeepsNewest(t *testing.T) {
	b := newBus(t)
	var drops dropLog
	s := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(3), pubsub.OnDrop(drops.record))
	for i := range 10 {
		if got := mustPublish(t, b, "a", i); got != 1 {
			t.Fatalf("Publish(%d) delivered %d; want 1 (DropOldest always enters)", i, got)
		}
	}
	if got := buffered(s); !slices.Equal(got, []int{7, 8, 9}) {
		t.Errorf("buffer = %v; want [7 8 9]", got)
	}
	if s.Dropped() != 7 {
		t.Errorf("Dropped() = %d; want 7", s.Dropped())
	}
	if got := drops.get(); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Errorf("OnDrop saw %v; want [0 1 2 3 4 5 6]", got)
	}
}

// Ensure that DropNewest keeps the oldest messages and discards the new one.
func TestPolicy_DropNewest_KeepsOldest(t *testing.T) {
	b := newBus(t)
	var drops dropLog
	s := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(3), pubsub.WithPolicy(pubsub.DropNewest), pubsub.OnDrop(drops.record))
	delivered := 0
	for i := range 10 {
		delivered += mustPublish(t, b, "a", i)
	}
	if delivered != 3 {
		t.Errorf("delivered %d in all; want 3", delivered)
	}
	if got := buffered(s); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("buffer = %v; want [0 1 2]", got)
	}
	if s.Dropped() != 7 {
		t.Errorf("Dropped() = %d; want 7", s.Dropped())
	}
	if got := drops.get(); !slices.Equal(got, []int{3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("OnDrop saw %v; want [3 4 5 6 7 8 9]", got)
	}
}

// Ensure that a full subscription never holds up other subscriptions or
// other channels (the fault of one queue shared by all topics).
func TestPolicy_FullSubscriptionDoesNotStallOthers(t *testing.T) {
	b := newBus(t)
	stuckA := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(1), pubsub.WithPolicy(pubsub.DropNewest))
	stuckB := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(1))
	other := mustSubscribe[int](t, b, "b", pubsub.WithBuffer(100))
	sameChannel := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(100))
	for i := range 50 {
		mustPublish(t, b, "a", i)
		mustPublish(t, b, "b", i)
	}
	if n := len(buffered(other)); n != 50 {
		t.Errorf("other channel received %d; want 50", n)
	}
	if n := len(buffered(sameChannel)); n != 50 {
		t.Errorf("roomy subscription on the full channel received %d; want 50", n)
	}
	if stuckA.Dropped() != 49 || stuckB.Dropped() != 49 {
		t.Errorf("full subscriptions dropped %d and %d; want 49 each", stuckA.Dropped(), stuckB.Dropped())
	}
}

// Ensure that Block waits for room and delivers when the subscriber drains in time.
func TestPolicy_Block_DeliversWhenDrained(t *testing.T) {
	b := newBus(t)
	s := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(1), pubsub.WithPolicy(pubsub.Block), pubsub.WithBlockTimeout(time.Minute))
	mustPublish(t, b, "a", 1)
	got := make(chan []int)
	go func() {
		var ms []int
		for m := range s.C() {
			ms = append(ms, m)
			if len(ms) == 3 {
				break
			}
		}
		got <- ms
	}()
	for i := 2; i <= 3; i++ {
		if n := mustPublish(t, b, "a", i); n != 1 {
			t.Errorf("blocking Publish(%d) delivered %d; want 1", i, n)
		}
	}
	if ms := <-got; !slices.Equal(ms, []int{1, 2, 3}) {
		t.Errorf("received %v; want [1 2 3]", ms)
	}
	if s.Dropped() != 0 {
		t.Errorf("Dropped() = %d; want 0", s.Dropped())
	}
}

// Ensure that Block gives up after exactly the timeout and counts the drop.
// synctest's fake clock makes the wait instant and exact.
func TestPolicy_Block_TimeoutDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBus(t)
		var drops dropLog
		const timeout = 20 * time.Millisecond
		s := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(1), pubsub.WithPolicy(pubsub.Block),
			pubsub.WithBlockTimeout(timeout), pubsub.OnDrop(drops.record))
		mustPublish(t, b, "a", 1)
		start := time.Now()
		n, err := pubsub.Publish(context.Background(), b, "a", 2)
		if elapsed := time.Since(start); elapsed != timeout {
			t.Errorf("Publish returned after %v; want the %v timeout", elapsed, timeout)
		}
		if n != 0 || err != nil {
			t.Errorf("Publish = %d, %v; want 0, nil", n, err)
		}
		if s.Dropped() != 1 || !slices.Equal(drops.get(), []int{2}) {
			t.Errorf("Dropped() = %d, OnDrop saw %v; want 1, [2]", s.Dropped(), drops.get())
		}
	})
}

// Ensure that a publisher blocked by Block is released when its ctx ends, and
// reports ctx's error.
func TestPolicy_Block_PublisherCtxReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBus(t)
		s := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(1), pubsub.WithPolicy(pubsub.Block), pubsub.WithBlockTimeout(time.Hour))
		mustPublish(t, b, "a", 1)
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		var n int
		var err error
		done := make(chan struct{})
		go func() {
			n, err = pubsub.Publish(ctx, b, "a", 2)
			close(done)
		}()
		synctest.Wait() // the publisher is now blocked in its send
		cancel()
		<-done
		if n != 0 || !errors.Is(err, context.Canceled) {
			t.Errorf("Publish = %d, %v; want 0, context.Canceled", n, err)
		}
		if time.Since(start) != 0 {
			t.Errorf("Publish waited %v of fake time; want 0", time.Since(start))
		}
		if s.Dropped() != 1 {
			t.Errorf("Dropped() = %d; want 1", s.Dropped())
		}
		if s.Err() != nil {
			t.Errorf("subscription Err() = %v; want nil (only the publisher gave up)", s.Err())
		}
	})
}

// Ensure that a publisher blocked by Block is released at once when the
// subscription or the bus closes, and that the close does not wait for it.
func TestPolicy_Block_CloseReleasesPublisher(t *testing.T) {
	for _, closer := range []string{"subscription", "bus"} {
		t.Run(closer, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBus(t)
				s := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(1), pubsub.WithPolicy(pubsub.Block), pubsub.WithBlockTimeout(time.Hour))
				mustPublish(t, b, "a", 1)
				start := time.Now()
				var n int
				var err error
				done := make(chan struct{})
				go func() {
					n, err = pubsub.Publish(context.Background(), b, "a", 2)
					close(done)
				}()
				synctest.Wait() // the publisher is now blocked in its send
				if closer == "bus" {
					b.Close()
				} else {
					s.Close()
				}
				<-done
				if n != 0 || err != nil {
					t.Errorf("released Publish = %d, %v; want 0, nil", n, err)
				}
				if time.Since(start) != 0 {
					t.Errorf("release took %v of fake time; want 0", time.Since(start))
				}
				if got := drain(t, s); !slices.Equal(got, []int{1}) {
					t.Errorf("after close, C yielded %v; want [1]", got)
				}
			})
		})
	}
}

// Ensure that Disconnect ends a subscription that falls behind, keeps what it
// buffered, and counts the message that did not fit.
func TestPolicy_Disconnect_EndsSlowConsumer(t *testing.T) {
	b := newBus(t)
	var drops dropLog
	s := mustSubscribe[int](t, b, "a", pubsub.WithBuffer(2), pubsub.WithPolicy(pubsub.Disconnect), pubsub.OnDrop(drops.record))
	delivered := 0
	for i := range 5 {
		delivered += mustPublish(t, b, "a", i)
	}
	if delivered != 2 {
		t.Errorf("delivered %d; want 2", delivered)
	}
	<-s.Done()
	if !errors.Is(s.Err(), pubsub.ErrSlowConsumer) {
		t.Errorf("Err() = %v; want ErrSlowConsumer", s.Err())
	}
	if got := drain(t, s); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("C yielded %v; want [0 1]", got)
	}
	if s.Dropped() != 1 || !slices.Equal(drops.get(), []int{2}) {
		t.Errorf("Dropped() = %d, OnDrop saw %v; want 1, [2]", s.Dropped(), drops.get())
	}
	if pubsub.HasSubscribers(b, "a") {
		t.Error("a disconnected subscription is still indexed")
	}
}

// Ensure that an OnDrop callback may close its subscription, close the bus,
// and publish, without deadlock.
func TestOnDrop_CallsBackIntoBus(t *testing.T) {
	b := newBus(t)
	audit := mustSubscribe[int](t, b, "audit", pubsub.WithBuffer(100))
	var s *pubsub.Subscription[int]
	var once sync.Once
	s = mustSubscribe[int](t, b, "a", pubsub.WithBuffer(1), pubsub.WithPolicy(pubsub.DropNewest),
		pubsub.OnDrop(func(ch string, m int) {
			if _, err := pubsub.Publish(context.Background(), b, "audit", m); err != nil {
				t.Errorf("Publish from OnDrop = %v", err)
			}
			once.Do(s.Close)
		}))
	mustPublish(t, b, "a", 1)
	mustPublish(t, b, "a", 2) // dropped: OnDrop publishes 2 and closes s
	if !errors.Is(s.Err(), pubsub.ErrUnsubscribed) {
		t.Errorf("Err() after Close from OnDrop = %v; want ErrUnsubscribed", s.Err())
	}
	if got := buffered(audit); !slices.Equal(got, []int{2}) {
		t.Errorf("audit received %v; want [2]", got)
	}

	s2 := mustSubscribe[int](t, b, "c", pubsub.WithBuffer(1), pubsub.OnDrop(func(string, int) { b.Close() }))
	mustPublish(t, b, "c", 1)
	mustPublish(t, b, "c", 2)
	if !errors.Is(s2.Err(), pubsub.ErrBusClosed) {
		t.Errorf("Err() after bus Close from OnDrop = %v; want ErrBusClosed", s2.Err())
	}
}

// Ensure that DropOldest reports the message it evicts before the message
// that evicted it can be received, so that a subscriber tracking drops
// through OnDrop never reads a newer message without knowing of the loss.
func TestPublish_DropOldest_ReportsBeforeNewerIsReadable(t *testing.T) {
	b := pubsub.New()
	defer b.Close()
	var sub *pubsub.Subscription[int]
	seen := make(chan int, 1) // what C held while OnDrop ran
	var err error
	sub, err = pubsub.Subscribe[int](context.Background(), b, "c", pubsub.WithBuffer(1),
		pubsub.OnDrop(func(_ string, old int) { seen <- len(sub.C()) }))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := range 2 {
		if _, err := pubsub.Publish(context.Background(), b, "c", i); err != nil {
			t.Fatal(err)
		}
	}
	if n := <-seen; n != 0 {
		t.Fatalf("OnDrop ran with %d newer message(s) already readable; want 0", n)
	}
	if got := <-sub.C(); got != 1 {
		t.Fatalf("C gave %d; want the newer message 1", got)
	}
}
