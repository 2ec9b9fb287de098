package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/livefold/livefold/pubsub"
)

// Ensure that a subscription receives exactly the channels its pattern matches.
func TestPublish_PatternMatching(t *testing.T) {
	tests := []struct {
		pattern, channel string
		match            bool
	}{
		{"a", "a", true},
		{"a", "b", false},
		{"a", "a.b", false},
		{"a.b", "a", false},
		{"a.b.c", "a.b.c", true},
		{"a.b.c", "a.b.d", false},
		{"*", "a", true},
		{"*", "a.b", false},
		{"a.*", "a.b", true},
		{"a.*", "a", false},
		{"a.*", "a.b.c", false},
		{"a.*", "b.c", false},
		{"*.b", "a.b", true},
		{"*.b", "a.c", false},
		{"a.*.c", "a.x.c", true},
		{"a.*.c", "a.x.d", false},
		{"*.*", "a.b", true},
		{"*.*", "a.b.c", false},
		{">", "a", true},
		{">", "a.b.c", true},
		{"a.>", "a", false},
		{"a.>", "a.b", true},
		{"a.>", "a.b.c.d", true},
		{"a.>", "b.c", false},
		{"*.>", "a", false},
		{"*.>", "a.b", true},
		{"a.*.>", "a.b", false},
		{"a.*.>", "a.b.c", true},
		{"projection.orders.*", "projection.orders.42", true},
		{"projection.orders.*", "projection.users.42", false},
		{"projection.>", "projection.orders.42", true},
		{"projection.orders.42", "projection.orders.42", true},
		{"projection.orders.42", "projection.orders.420", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s~%s", tt.pattern, tt.channel), func(t *testing.T) {
			b := newBus(t)
			s := mustSubscribe[int](t, b, tt.pattern)
			want := 0
			if tt.match {
				want = 1
			}
			if got := mustPublish(t, b, tt.channel, 7); got != want {
				t.Errorf("Publish(%q) to pattern %q delivered %d; want %d", tt.channel, tt.pattern, got, want)
			}
			if got := pubsub.HasSubscribers(b, tt.channel); got != tt.match {
				t.Errorf("HasSubscribers(%q) with pattern %q = %v; want %v", tt.channel, tt.pattern, got, tt.match)
			}
			if got := len(buffered(s)); got != want {
				t.Errorf("pattern %q received %d messages from %q; want %d", tt.pattern, got, tt.channel, want)
			}
		})
	}
}

// Ensure that overlapping patterns each receive one copy, and that removing
// one leaves the others working.
func TestPublish_OverlappingPatterns(t *testing.T) {
	b := newBus(t)
	patterns := []string{"a.b.c", "a.b.*", "a.*.c", "a.>", ">", "*.b.c", "a.b.c"}
	subs := make([]*pubsub.Subscription[int], len(patterns))
	for i, p := range patterns {
		subs[i] = mustSubscribe[int](t, b, p)
	}
	if got := mustPublish(t, b, "a.b.c", 1); got != len(patterns) {
		t.Fatalf("Publish delivered %d; want %d", got, len(patterns))
	}
	for i, s := range subs {
		if got := buffered(s); len(got) != 1 {
			t.Errorf("subscription %q received %v; want [1]", patterns[i], got)
		}
	}
	subs[0].Close()
	subs[3].Close()
	if got := mustPublish(t, b, "a.b.c", 2); got != len(patterns)-2 {
		t.Fatalf("Publish after two Closes delivered %d; want %d", got, len(patterns)-2)
	}
	if got := buffered(subs[6]); len(got) != 1 || got[0] != 2 {
		t.Errorf("duplicate-pattern subscription received %v after its twin closed; want [2]", got)
	}
}

// Ensure that messages reach only subscriptions of exactly the published type.
func TestPublish_TypedIsolation(t *testing.T) {
	type myInt int
	b := newBus(t)
	ints := mustSubscribe[int](t, b, "t")
	strs := mustSubscribe[string](t, b, "t")
	named := mustSubscribe[myInt](t, b, "t")
	anys := mustSubscribe[any](t, b, "t")

	if got := mustPublish(t, b, "t", "s"); got != 1 {
		t.Errorf("Publish[string] delivered %d; want 1", got)
	}
	if got := mustPublish(t, b, "t", 1); got != 1 {
		t.Errorf("Publish[int] delivered %d; want 1", got)
	}
	if got := mustPublish(t, b, "t", myInt(2)); got != 1 {
		t.Errorf("Publish[myInt] delivered %d; want 1", got)
	}
	if got := mustPublish[any](t, b, "t", 3); got != 1 {
		t.Errorf("Publish[any] delivered %d; want 1", got)
	}
	if got := buffered(ints); len(got) != 1 || got[0] != 1 {
		t.Errorf("Subscribe[int] received %v; want [1]", got)
	}
	if got := buffered(strs); len(got) != 1 || got[0] != "s" {
		t.Errorf("Subscribe[string] received %v; want [s]", got)
	}
	if got := buffered(named); len(got) != 1 || got[0] != 2 {
		t.Errorf("Subscribe[myInt] received %v; want [2]", got)
	}
	if got := buffered(anys); len(got) != 1 || got[0] != 3 {
		t.Errorf("Subscribe[any] received %v; want [3]", got)
	}
}

// Ensure that HasSubscribers follows subscriptions as they come and go, for any type.
func TestHasSubscribers_FollowsSubscriptions(t *testing.T) {
	b := newBus(t)
	if pubsub.HasSubscribers(b, "a.b") {
		t.Fatal("HasSubscribers on an empty bus = true; want false")
	}
	s1 := mustSubscribe[string](t, b, "a.*")
	s2 := mustSubscribe[int](t, b, "a.b")
	if !pubsub.HasSubscribers(b, "a.b") || !pubsub.HasSubscribers(b, "a.c") {
		t.Fatal("HasSubscribers = false with matching subscriptions; want true")
	}
	if pubsub.HasSubscribers(b, "b.b") {
		t.Fatal("HasSubscribers(b.b) = true; want false")
	}
	if pubsub.HasSubscribers(b, "a.*") {
		t.Fatal("HasSubscribers on an invalid channel = true; want false")
	}
	s1.Close()
	if pubsub.HasSubscribers(b, "a.c") {
		t.Fatal("HasSubscribers(a.c) after Close = true; want false")
	}
	if !pubsub.HasSubscribers(b, "a.b") {
		t.Fatal("HasSubscribers(a.b) with one subscription left = false; want true")
	}
	s2.Close()
	if pubsub.HasSubscribers(b, "a.b") {
		t.Fatal("HasSubscribers after all Closes = true; want false")
	}
	s3 := mustSubscribe[int](t, b, ">")
	_ = s3
	b.Close()
	if pubsub.HasSubscribers(b, "a.b") {
		t.Fatal("HasSubscribers on a closed bus = true; want false")
	}
}

// Ensure that bad arguments fail with the documented errors.
func TestSubscribe_InvalidArguments(t *testing.T) {
	b := newBus(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		pattern string
		opts    []pubsub.SubscribeOption
		want    error
	}{
		{"empty pattern", "", nil, pubsub.ErrInvalidPattern},
		{"bad pattern", "a.>.b", nil, pubsub.ErrInvalidPattern},
		{"zero buffer", "a", []pubsub.SubscribeOption{pubsub.WithBuffer(0)}, pubsub.ErrInvalidOption},
		{"negative buffer", "a", []pubsub.SubscribeOption{pubsub.WithBuffer(-1)}, pubsub.ErrInvalidOption},
		{"huge buffer", "a", []pubsub.SubscribeOption{pubsub.WithBuffer(pubsub.MaxBuffer + 1)}, pubsub.ErrInvalidOption},
		{"unknown policy", "a", []pubsub.SubscribeOption{pubsub.WithPolicy(pubsub.Policy(42))}, pubsub.ErrInvalidOption},
		{"zero timeout", "a", []pubsub.SubscribeOption{pubsub.WithBlockTimeout(0)}, pubsub.ErrInvalidOption},
		{"OnDrop of another type", "a", []pubsub.SubscribeOption{pubsub.OnDrop(func(string, string) {})}, pubsub.ErrInvalidOption},
	}
	for _, tt := range tests {
		s, err := pubsub.Subscribe[int](ctx, b, tt.pattern, tt.opts...)
		if !errors.Is(err, tt.want) || s != nil {
			t.Errorf("%s: Subscribe = %v, %v; want nil, %v", tt.name, s, err, tt.want)
		}
	}
	if pubsub.HasSubscribers(b, "a") {
		t.Error("a failed Subscribe left a subscription behind")
	}
	if _, err := pubsub.Subscribe[int](ctx, b, "a", pubsub.OnDrop[int](nil)); err != nil {
		t.Errorf("Subscribe with OnDrop(nil) = %v; want nil", err)
	}
}

// Ensure that a bad channel fails Publish with ErrInvalidChannel naming it.
func TestPublish_InvalidChannel(t *testing.T) {
	b := newBus(t)
	mustSubscribe[int](t, b, ">")
	for _, ch := range []string{"", "a.*", "a.>", "a..b", "a b", "a."} {
		n, err := pubsub.Publish(context.Background(), b, ch, 1)
		if !errors.Is(err, pubsub.ErrInvalidChannel) || n != 0 {
			t.Errorf("Publish(%q) = %d, %v; want 0, ErrInvalidChannel", ch, n, err)
		}
	}
}

// Ensure that New rejects out-of-range defaults and applies valid ones.
func TestNew_Options(t *testing.T) {
	for name, opt := range map[string]pubsub.Option{
		"buffer":  pubsub.WithDefaultBuffer(0),
		"policy":  pubsub.WithDefaultPolicy(pubsub.Policy(-1)),
		"timeout": pubsub.WithDefaultBlockTimeout(-1),
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with a bad default %s did not panic", name)
				}
			}()
			pubsub.New(opt)
		}()
	}

	b := newBus(t, pubsub.WithDefaultBuffer(2), pubsub.WithDefaultPolicy(pubsub.DropNewest))
	s := mustSubscribe[int](t, b, "a")
	for i := range 3 {
		mustPublish(t, b, "a", i)
	}
	if got := buffered(s); len(got) != 2 || got[0] != 0 || got[1] != 1 || s.Dropped() != 1 {
		t.Errorf("with default buffer 2 and DropNewest: received %v, dropped %d; want [0 1], 1", got, s.Dropped())
	}
}
