package pubsub_test

import (
	"context"
	"fmt"

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
		panic(err)
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
