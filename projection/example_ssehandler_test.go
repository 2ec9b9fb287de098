package projection_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// Click is the event: someone pressed Button.
type Click struct{ Button string }

// clicks counts the presses of each button.
type clicks struct{}

func (clicks) Name() string               { return "ui.clicks" }
func (clicks) Key(c Click) string         { return c.Button }
func (clicks) Apply(n *int, _ Click) int  { *n++; return 1 }
func (clicks) BroadcastEventName() string { return "clicked" } // names delta events

func ExampleRuntime_SSEHandler() {
	dir, err := os.MkdirTemp("", "livefold-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "ui.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	bus := pubsub.New() // closing it ends every stream
	defer bus.Close()
	rt, err := projection.New(store, bus, clicks{})
	if err != nil {
		log.Fatal(err)
	}

	// A browser follows a button with
	//   const es = new EventSource("/clicks/buy/events");
	//   es.addEventListener("clicked", (e) => show(JSON.parse(e.data)));
	mux := http.NewServeMux()
	mux.Handle("GET /clicks/{key}/events", rt.SSEHandler(projection.WithSSENamedEvents()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What the browser receives, but for the id lines, whose cursors differ
	// from run to run.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the stream
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/clicks/buy/events", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	printEvent := func() {
		for lines.Scan() && lines.Text() != "" {
			if !strings.HasPrefix(lines.Text(), "id: ") {
				fmt.Println(lines.Text())
			}
		}
	}
	printEvent() // the reconnection delay
	printEvent() // the button's state: none yet
	if _, err := rt.Apply(ctx, Click{"buy"}); err != nil {
		log.Fatal(err)
	}
	printEvent()
	// Output:
	// retry: 3000
	// event: deleted
	// data: {"type":"event","event":"deleted","key":"buy","channel":"projection.ui.clicks.buy","version":0,"data":null}
	// event: clicked
	// data: {"type":"event","event":"clicked","key":"buy","channel":"projection.ui.clicks.buy","version":1,"data":1}
}
