package pubsub_test

import (
	"context"
	"fmt"
	"log"

	"github.com/livefold/livefold/pubsub"
)

func ExampleSubscribe() {
	type update struct {
		Key   string
		Total int
	}
	ctx := context.Background()
	b := pubsub.New()
	defer b.Close()

	sub, err := pubsub.Subscribe[update](ctx, b, "projection.orders.*", pubsub.WithBuffer(16))
	if err != nil {
		log.Fatal(err)
	}
	if pubsub.HasSubscribers(b, "projection.orders.42") {
		n, _ := pubsub.Publish(ctx, b, "projection.orders.42", update{Key: "42", Total: 7})
		fmt.Println("delivered:", n)
	}
	sub.Close()
	for u := range sub.C() { // buffered messages are still received after Close
		fmt.Printf("%s=%d\n", u.Key, u.Total)
	}
	fmt.Println(sub.Err())
	// Output:
	// delivered: 1
	// 42=7
	// pubsub: unsubscribed
}

func ExampleWithPolicy() {
	ctx := context.Background()
	b := pubsub.New()
	defer b.Close()
	keepNewest, err := pubsub.Subscribe[int](ctx, b, "ticks", pubsub.WithBuffer(2)) // DropOldest, the default
	if err != nil {
		log.Fatal(err)
	}
	keepOldest, err := pubsub.Subscribe[int](ctx, b, "ticks", pubsub.WithBuffer(2), pubsub.WithPolicy(pubsub.DropNewest))
	if err != nil {
		log.Fatal(err)
	}
	for i := 1; i <= 4; i++ { // nobody reads meanwhile: the buffers overflow
		if _, err := pubsub.Publish(ctx, b, "ticks", i); err != nil {
			log.Fatal(err)
		}
	}
	for _, sub := range []*pubsub.Subscription[int]{keepNewest, keepOldest} {
		sub.Close()
		var kept []int
		for n := range sub.C() {
			kept = append(kept, n)
		}
		fmt.Println("kept", kept, "dropped", sub.Dropped())
	}
	// Output:
	// kept [3 4] dropped 2
	// kept [1 2] dropped 2
}
