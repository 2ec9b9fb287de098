package projectiontest_test

import (
	"testing"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/projectiontest"
)

// Visit is the event: someone opened Page.
type Visit struct{ Page string }

// visits counts the visits of each page; each update's delta is 1.
type visits struct{}

func (visits) Name() string              { return "site.visits" }
func (visits) Key(v Visit) string        { return v.Page }
func (visits) Apply(n *int, _ Visit) int { *n++; return 1 }

// A test records what a subscriber receives and checks it in order. An
// Example has no *testing.T to give, so this one is the body of a test
// function, compiled but not run.
func ExampleCollect() {
	var t *testing.T // in a test, its own: func TestVisits(t *testing.T)

	rt, err := projection.New(projectiontest.OpenStore(t), projectiontest.NewBus(t), visits{})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := rt.SubscribeAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := projectiontest.Collect(t, sub) // closes sub when the test ends
	for _, page := range []string{"/", "/about", "/"} {
		if _, err := rt.Apply(t.Context(), Visit{page}); err != nil {
			t.Fatal(err)
		}
	}

	c.WaitVersion("/", 2) // fails the test after DefaultTimeout
	for _, u := range c.Updates() {
		t.Log(u.Key, u.Version, u.State)
	}
}
