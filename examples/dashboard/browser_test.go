package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/livefold/livefold/projection"
	"github.com/stretchr/testify/require"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// requireChromium skips t when Chromium is missing, except in CI
// (CI=true), where a missing browser must not pass unnoticed.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("the browser test needs Chromium at %s (%v); install it with: apt-get install -y chromium", chromiumPath, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// newTab starts a headless Chromium with a fresh profile and returns the
// context of one tab. The browser lives at most a minute; cleanup closes it,
// waits for its process and fails t if any process it started is left
// running, after killing those.
func newTab(t *testing.T) context.Context {
	t.Helper()
	// Not a child of the test's context: that ends before cleanup runs, and
	// the browser must still be there for cleanup to find its processes.
	life, endLife := context.WithTimeout(context.Background(), time.Minute)
	profile := t.TempDir()
	actx, cancelAlloc := chromedp.NewExecAllocator(life,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // tests may run as root, where the sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// Containers often give /dev/shm 64 MB, which renderers can fill.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
	)
	tab, cancelTab := chromedp.NewContext(actx)
	stop := func() {
		cancelTab()
		cancelAlloc() // kills the browser if it is still running, and waits for it
		endLife()
	}
	// The first run starts the browser, which lives as long as the context
	// of that run: it must be the tab's own.
	if err := chromedp.Do(tab); err != nil {
		stop()
		t.Fatalf("cannot start %s: %v", chromiumPath, err)
	}
	browser := chromedp.FromContext(tab).Browser.Process()
	t.Cleanup(func() {
		procs := append(processTree(browser.Pid), processesUsing(profile)...)
		cctx, cancel := context.WithTimeout(tab, 5*time.Second)
		defer cancel()
		if err := chromedp.Cancel(cctx); err != nil {
			t.Logf("closing the browser gracefully: %v", err)
		}
		stop()
		if _, err := os.Stat("/proc"); err == nil && len(procs) == 0 {
			t.Error("found no browser process in /proc to check")
		}
		requireProcessesEnd(t, append(procs, processesUsing(profile)...), 5*time.Second)
	})
	return tab
}

// waitFor waits until the page's expression is true, or fails t with what
// the page shows.
func waitFor(t *testing.T, tab context.Context, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		text, terr := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("the page did not show %s: %v\npage text (%v):\n%s", what, err, terr, text)
	}
}

// shows is a JavaScript expression that is true once the page is live and
// shows exactly this version, total and units.
func shows(version uint64, total int, units map[string]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `document.getElementById("status").textContent === "live"`+
		` && document.getElementById("version").textContent === "%d"`+
		` && document.getElementById("total").textContent === "%d"`+
		` && document.querySelectorAll("#units tr").length === %d`,
		version, total, len(units))
	for sku, n := range units {
		fmt.Fprintf(&b, ` && document.querySelector('#units tr[data-sku=%q] td.units')?.textContent === "%d"`, sku, n)
	}
	return b.String()
}

// chartShows is a JavaScript expression that is true once the chart's data
// holds exactly these totals, oldest first.
func chartShows(totals ...int) string {
	s := make([]string, len(totals))
	for i, n := range totals {
		s[i] = strconv.Itoa(n)
	}
	return fmt.Sprintf(`document.getElementById("chart").dataset.totals === %q`, strings.Join(s, ","))
}

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
	requireChromium(t)
	ts := newTestServer(t)
	tab := newTab(t)
	// Actions run in the tab's context; this one only bounds them.
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	_, err := ts.stock.Apply(ctx, StockMoved{Warehouse: "berlin", SKU: "apple", Qty: 5})
	require.NoError(t, err)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ts.url+"/?warehouse=berlin")))
	waitFor(t, ctx, "the initial state", shows(1, 5, map[string]int{"apple": 5}))
	waitFor(t, ctx, "the initial total on the chart", chartShows(5))
	// A reload would lose this.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`))
	require.NoError(t, err)

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#move-apple-plus1"))))
	waitFor(t, ctx, "the clicked movement", shows(2, 6, map[string]int{"apple": 6}))
	waitFor(t, ctx, "the clicked movement on the chart", chartShows(5, 6))
	before := readChart(t, ctx)
	requireDrawn(t, before)
	snap, err := ts.stock.ReadRequired(ctx, "berlin")
	require.NoError(t, err)
	require.Equal(t, uint64(2), snap.Version)
	require.Equal(t, 6, snap.State.Units["apple"])

	require.NoError(t, projection.Dispatch(ctx, ts.d, StockMoved{Warehouse: "berlin", SKU: "pear", Qty: 7}))
	waitFor(t, ctx, "the movement dispatched on the server", shows(3, 13, map[string]int{"apple": 6, "pear": 7}))
	waitFor(t, ctx, "the dispatched movement on the chart", chartShows(5, 6, 13))
	after := readChart(t, ctx)
	requireDrawn(t, after)
	require.NotEqual(t, before.Points, after.Points, "the chart's line did not move")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#move-sku"), "plum"),
		chromedp.SendKeys(chromedp.CSS("#move-qty"), "-2"),
		chromedp.Click(chromedp.CSS(`#move-form button[type="submit"]`)),
	))
	waitFor(t, ctx, "the movement from the form", shows(4, 11, map[string]int{"apple": 6, "pear": 7, "plum": -2}))
	waitFor(t, ctx, "the movement from the form on the chart", chartShows(5, 6, 13, 11))
	requireDrawn(t, readChart(t, ctx))
	waitFor(t, ctx, "no error", `document.getElementById("error").textContent === ""`)

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
	requireChromium(t)
	var gate streamGate
	ts := newWrappedTestServer(t, gate.wrap, withRetry(100*time.Millisecond))
	t.Cleanup(gate.release) // before the server's cleanup, which waits for held requests
	tab := newTab(t)
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	_, err := ts.stock.Apply(ctx, StockMoved{Warehouse: "berlin", SKU: "apple", Qty: 5})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ts.url+"/?warehouse=berlin")))
	waitFor(t, ctx, "the initial state", shows(1, 5, map[string]int{"apple": 5}))

	gate.cut()
	waitFor(t, ctx, "the lost connection", `document.getElementById("status").textContent === "reconnecting…"`+
		` && document.getElementById("error").textContent.includes("lost the connection")`)
	_, err = ts.stock.Apply(ctx, StockMoved{Warehouse: "berlin", SKU: "pear", Qty: 2})
	require.NoError(t, err)

	gate.release()
	waitFor(t, ctx, "the missed movement, live again", shows(2, 7, map[string]int{"apple": 5, "pear": 2}))
	waitFor(t, ctx, "a cleared error line", `document.getElementById("error").textContent === ""`)
	waitFor(t, ctx, "the missed movement on the chart", chartShows(5, 7))
}

// proc identifies a process across PID reuse by its start time.
type proc struct {
	pid   int
	start string
}

// processTree returns pid and its descendants, read from /proc. It returns
// nil where /proc is missing, so the check is skipped off Linux.
func processTree(pid int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]proc{}
	var root *proc
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, start, _, ok := readStat(p)
		if !ok {
			continue
		}
		if p == pid {
			root = &proc{p, start}
		}
		children[ppid] = append(children[ppid], proc{p, start})
	}
	if root == nil {
		return nil
	}
	tree := []proc{*root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i].pid]...)
	}
	return tree
}

// readStat returns the parent, start time and state of pid.
func readStat(pid int) (ppid int, start string, state byte, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, "", 0, false
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, "", 0, false
	}
	f := strings.Fields(string(b[i+1:])) // from field 3, state
	if len(f) < 20 {
		return 0, "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, "", 0, false
	}
	return ppid, f[19], f[0][0], true
}

// processesUsing returns the processes whose command line names profile as
// their user data directory: Chromium passes it to its helpers, which may
// have left the browser's process tree.
func processesUsing(profile string) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := "--user-data-dir=" + profile
	var procs []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !slices.Contains(strings.Split(string(cmd), "\x00"), want) {
			continue
		}
		if _, start, _, ok := readStat(pid); ok {
			procs = append(procs, proc{pid, start})
		}
	}
	return procs
}

// requireProcessesEnd fails t if any of procs still runs after timeout.
// A zombie has ended; only its parent has yet to reap it.
func requireProcessesEnd(t *testing.T, procs []proc, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var alive []string
		for _, p := range procs {
			_, start, state, ok := readStat(p.pid)
			if ok && start == p.start && state != 'Z' {
				cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid), "cmdline"))
				alive = append(alive, fmt.Sprintf("%d %.80s", p.pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range procs {
				if _, start, _, ok := readStat(p.pid); ok && start == p.start {
					if pr, err := os.FindProcess(p.pid); err == nil {
						pr.Kill()
					}
				}
			}
			t.Fatalf("browser processes left running after close (now killed):\n%s", strings.Join(alive, "\n"))
		}
		// Nothing signals the end of a process that is not our child.
		time.Sleep(50 * time.Millisecond)
	}
}
