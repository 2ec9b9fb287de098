package pubsub_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/livefold/livefold/pubsub"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newBus returns a bus closed when the test ends.
func newBus(t testing.TB, opts ...pubsub.Option) *pubsub.Bus {
	t.Helper()
	b := pubsub.New(opts...)
	t.Cleanup(b.Close)
	return b
}

// mustSubscribe subscribes or fails the test.
func mustSubscribe[T any](t testing.TB, b *pubsub.Bus, pattern string, opts ...pubsub.SubscribeOption) *pubsub.Subscription[T] {
	t.Helper()
	s, err := pubsub.Subscribe[T](context.Background(), b, pattern, opts...)
	if err != nil {
		t.Fatalf("Subscribe(%q) = %v; want nil", pattern, err)
	}
	return s
}

// mustPublish publishes or fails the test, and returns the delivered count.
func mustPublish[T any](t testing.TB, b *pubsub.Bus, channel string, msg T) int {
	t.Helper()
	n, err := pubsub.Publish(context.Background(), b, channel, msg)
	if err != nil {
		t.Fatalf("Publish(%q) = %v; want nil", channel, err)
	}
	return n
}

// drain returns every message left in s.C(); s must have ended.
func drain[T any](t testing.TB, s *pubsub.Subscription[T]) []T {
	t.Helper()
	var out []T
	for m := range s.C() {
		out = append(out, m)
	}
	return out
}

// buffered returns the messages currently in s's buffer without waiting.
func buffered[T any](s *pubsub.Subscription[T]) []T {
	var out []T
	for {
		select {
		case m, ok := <-s.C():
			if !ok {
				return out
			}
			out = append(out, m)
		default:
			return out
		}
	}
}
