package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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

// Ensure that the page, in a real browser, shows the projection's state and
// follows it live without a reload: after a click on one of its buttons,
// after an event applied on the server by the runtime, and after its form.
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
	// A reload would lose this.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`))
	require.NoError(t, err)

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#move-apple-plus1"))))
	waitFor(t, ctx, "the clicked movement", shows(2, 6, map[string]int{"apple": 6}))
	snap, err := ts.stock.ReadRequired(ctx, "berlin")
	require.NoError(t, err)
	require.Equal(t, uint64(2), snap.Version)
	require.Equal(t, 6, snap.State.Units["apple"])

	_, err = ts.stock.Apply(ctx, StockMoved{Warehouse: "berlin", SKU: "pear", Qty: 7})
	require.NoError(t, err)
	waitFor(t, ctx, "the movement applied on the server", shows(3, 13, map[string]int{"apple": 6, "pear": 7}))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#move-sku"), "plum"),
		chromedp.SendKeys(chromedp.CSS("#move-qty"), "-2"),
		chromedp.Click(chromedp.CSS(`#move-form button[type="submit"]`)),
	))
	waitFor(t, ctx, "the movement from the form", shows(4, 11, map[string]int{"apple": 6, "pear": 7, "plum": -2}))

	notReloaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	require.NoError(t, err)
	require.True(t, notReloaded, "the page was reloaded")
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, ts.url+"/?warehouse=berlin", loc, "the form navigated away")
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
