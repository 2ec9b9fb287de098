package stockdashtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// RequireChromium skips t when Chromium is missing, except in CI
// (CI=true), where a missing browser must not pass unnoticed.
func RequireChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		msg := fmt.Sprintf("the browser test needs Chromium at %s (%v); install it with: apt-get install -y chromium", ChromiumPath, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// NewTab starts a headless Chromium with a fresh profile and returns the
// context of one tab. The browser lives at most a minute; cleanup closes it,
// waits for its process and fails t if any process it started is left
// running, after killing those. chromedp.NewContext(tab) opens another tab
// of the same browser, as a user would; cancel it before t ends.
func NewTab(t testing.TB) context.Context {
	t.Helper()
	// Not a child of the test's context: that ends before cleanup runs, and
	// the browser must still be there for cleanup to find its processes.
	life, endLife := context.WithTimeout(context.Background(), time.Minute)
	profile := t.TempDir()
	actx, cancelAlloc := chromedp.NewExecAllocator(life,
		chromedp.ExecPath(ChromiumPath),
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
		t.Fatalf("cannot start %s: %v", ChromiumPath, err)
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
