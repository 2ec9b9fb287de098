package stockdashtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// WaitFor waits until the page's expression is true, or fails t with what
// the page shows.
func WaitFor(t testing.TB, tab context.Context, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		text, terr := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("the page did not show %s: %v\npage text (%v):\n%s", what, err, terr, text)
	}
}

// Shows is a JavaScript expression that is true once the page is live and
// shows exactly this version, total and units.
func Shows(version uint64, total int, units map[string]int) string {
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

// ChartShows is a JavaScript expression that is true once the chart's data
// holds exactly these totals, oldest first.
func ChartShows(totals ...int) string {
	s := make([]string, len(totals))
	for i, n := range totals {
		s[i] = strconv.Itoa(n)
	}
	return fmt.Sprintf(`document.getElementById("chart").dataset.totals === %q`, strings.Join(s, ","))
}
