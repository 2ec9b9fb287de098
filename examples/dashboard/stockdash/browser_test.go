package stockdash_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/livefold/livefold/examples/dashboard/stockdash"
	"github.com/livefold/livefold/examples/dashboard/stockdash/stockdashtest"
	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// chartLine is what the chart draws: its data and its line's points.
type chartLine struct {
	Totals []int
	Points [][2]float64
}

// readChart returns the chart's totals and the points of its line.
func readChart(t *testing.T, tab context.Context) chartLine {
	t.Helper()
	c, err := chromedp.Run(tab, chromedp.Evaluate[chartLine](`({
		Totals: (document.getElementById("chart").dataset.totals || "").split(",").filter((s) => s !== "").map(Number),
		Points: Array.from(document.getElementById("chart-line").points, (p) => [p.x, p.y]),
	})`))
	require.NoError(t, err)
	return c
}

// requireDrawn fails t unless the line has a point per total, from left to
// right, each higher on the screen (a smaller y) exactly when its total is
// larger.
func requireDrawn(t *testing.T, c chartLine) {
	t.Helper()
	require.Len(t, c.Points, len(c.Totals), "one point per total: %+v", c)
	for i := 1; i < len(c.Points); i++ {
		require.Greater(t, c.Points[i][0], c.Points[i-1][0], "points go left to right: %+v", c)
		dt, dy := c.Totals[i]-c.Totals[i-1], c.Points[i][1]-c.Points[i-1][1]
		switch {
		case dt > 0:
			require.Less(t, dy, 0.0, "a larger total is drawn higher: %+v", c)
		case dt < 0:
			require.Greater(t, dy, 0.0, "a smaller total is drawn lower: %+v", c)
		default:
			require.Equal(t, 0.0, dy, "an equal total is drawn level: %+v", c)
		}
	}
}

// Ensure that the page, in a real browser, shows the projection's state and
// follows it live without a reload: after a click on one of its buttons,
// after an event applied on the server by the runtime, and after its form.
// Its chart, drawn from the frames, moves with every event.
func TestDashboard_Browser_UpdatesWithoutReload(t *testing.T) {
	stockdashtest.RequireChromium(t)
	ts := newTestServer(t)
	tab := stockdashtest.NewTab(t)
	// Actions run in the tab's context; this one only bounds them.
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	_, err := ts.Runtime().Apply(ctx, stockdash.StockMoved{Warehouse: "berlin", SKU: "apple", Qty: 5})
	require.NoError(t, err)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ts.url+"/?warehouse=berlin")))
	stockdashtest.WaitFor(t, ctx, "the initial state", stockdashtest.Shows(1, 5, map[string]int{"apple": 5}))
	stockdashtest.WaitFor(t, ctx, "the initial total on the chart", stockdashtest.ChartShows(5))
	// A reload would lose this.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`))
	require.NoError(t, err)

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#move-apple-plus1"))))
	stockdashtest.WaitFor(t, ctx, "the clicked movement", stockdashtest.Shows(2, 6, map[string]int{"apple": 6}))
	stockdashtest.WaitFor(t, ctx, "the clicked movement on the chart", stockdashtest.ChartShows(5, 6))
	before := readChart(t, ctx)
	requireDrawn(t, before)
	snap, err := ts.Runtime().ReadRequired(ctx, "berlin")
	require.NoError(t, err)
	require.Equal(t, uint64(2), snap.Version)
	require.Equal(t, 6, snap.State.Units["apple"])

	require.NoError(t, projection.Dispatch(ctx, ts.Dispatcher(), stockdash.StockMoved{Warehouse: "berlin", SKU: "pear", Qty: 7}))
	stockdashtest.WaitFor(t, ctx, "the movement dispatched on the server", stockdashtest.Shows(3, 13, map[string]int{"apple": 6, "pear": 7}))
	stockdashtest.WaitFor(t, ctx, "the dispatched movement on the chart", stockdashtest.ChartShows(5, 6, 13))
	after := readChart(t, ctx)
	requireDrawn(t, after)
	require.NotEqual(t, before.Points, after.Points, "the chart's line did not move")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#move-sku"), "plum"),
		chromedp.SendKeys(chromedp.CSS("#move-qty"), "-2"),
		chromedp.Click(chromedp.CSS(`#move-form button[type="submit"]`)),
	))
	stockdashtest.WaitFor(t, ctx, "the movement from the form", stockdashtest.Shows(4, 11, map[string]int{"apple": 6, "pear": 7, "plum": -2}))
	stockdashtest.WaitFor(t, ctx, "the movement from the form on the chart", stockdashtest.ChartShows(5, 6, 13, 11))
	requireDrawn(t, readChart(t, ctx))
	stockdashtest.WaitFor(t, ctx, "no error", `document.getElementById("error").textContent === ""`)

	notReloaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	require.NoError(t, err)
	require.True(t, notReloaded, "the page was reloaded")
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, ts.url+"/?warehouse=berlin", loc, "the form navigated away")
}

// streamGate stands between the browser and the dashboard: cut ends the
// page's open event streams and holds its reconnections until release lets
// them through, as a server that went away and came back would.
type streamGate struct {
	mu      sync.Mutex // guards the fields below
	cancels []context.CancelFunc
	held    chan struct{} // while streams are held: closed by release
}

func (g *streamGate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/events") {
			h.ServeHTTP(w, r)
			return
		}
		g.mu.Lock()
		held := g.held
		g.mu.Unlock()
		if held != nil {
			select {
			case <-held:
			case <-r.Context().Done():
				return
			}
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		g.mu.Lock()
		g.cancels = append(g.cancels, cancel)
		g.mu.Unlock()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// cut ends every open stream and holds the next ones until release.
func (g *streamGate) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = make(chan struct{})
	}
	for _, cancel := range g.cancels {
		cancel()
	}
	g.cancels = nil
}

// release lets held and later streams through.
func (g *streamGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		close(g.held)
		g.held = nil
	}
}

// Ensure that the page says so on its error line when it loses its event
// stream, and clears the line once it is live again, having caught up with
// what it missed meanwhile.
func TestDashboard_Browser_ClearsErrorWhenLiveAgain(t *testing.T) {
	stockdashtest.RequireChromium(t)
	var gate streamGate
	ts := newWrappedTestServer(t, gate.wrap, stockdash.WithRetry(100*time.Millisecond))
	t.Cleanup(gate.release) // before the server's cleanup, which waits for held requests
	tab := stockdashtest.NewTab(t)
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	_, err := ts.Runtime().Apply(ctx, stockdash.StockMoved{Warehouse: "berlin", SKU: "apple", Qty: 5})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ts.url+"/?warehouse=berlin")))
	stockdashtest.WaitFor(t, ctx, "the initial state", stockdashtest.Shows(1, 5, map[string]int{"apple": 5}))

	gate.cut()
	stockdashtest.WaitFor(t, ctx, "the lost connection", `document.getElementById("status").textContent === "reconnecting…"`+
		` && document.getElementById("error").textContent.includes("lost the connection")`)
	_, err = ts.Runtime().Apply(ctx, stockdash.StockMoved{Warehouse: "berlin", SKU: "pear", Qty: 2})
	require.NoError(t, err)

	gate.release()
	stockdashtest.WaitFor(t, ctx, "the missed movement, live again", stockdashtest.Shows(2, 7, map[string]int{"apple": 5, "pear": 2}))
	stockdashtest.WaitFor(t, ctx, "a cleared error line", `document.getElementById("error").textContent === ""`)
	stockdashtest.WaitFor(t, ctx, "the missed movement on the chart", stockdashtest.ChartShows(5, 7))
}
