package main

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/livefold/livefold/examples/dashboard/stockdash/stockdashtest"
)

// waitTimeout bounds every wait for an instance or a page, so that one
// that never answers fails the test instead of hanging it. It is a guard
// against hangs, not an assertion about speed.
const waitTimeout = time.Minute

// instance is the dashboard command running as a process of its own.
type instance struct {
	name string // for messages: A, B
	url  string // http://host:port, without a trailing slash
	cmd  *exec.Cmd
	// done is closed once the process's output is read to its end; out is
	// read only after.
	done chan struct{}
	out  strings.Builder
}

// startInstance starts the dashboard on table of the database at dbURL, on
// a port of its own, and returns once it serves. Cleanup interrupts it and
// fails t unless it then shuts down cleanly.
func startInstance(t *testing.T, name, dbURL, table string) *instance {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-db", dbURL, "-table", table)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	dieWithParent(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("instance %s: %v", name, err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("instance %s: %v", name, err)
	}
	in := &instance{name: name, cmd: cmd, done: make(chan struct{})}
	serving := make(chan string, 1)
	go func() {
		defer close(in.done)
		sc := bufio.NewScanner(stderr)
		for found := false; sc.Scan(); {
			if rest, ok := strings.CutPrefix(sc.Text(), "dashboard: serving "); ok && !found {
				found = true
				u, _, _ := strings.Cut(rest, " ")
				serving <- strings.TrimSuffix(u, "/")
			}
			in.out.WriteString(sc.Text() + "\n")
		}
	}()
	t.Cleanup(func() { in.stop(t) })
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case in.url = <-serving:
	case <-in.done:
		t.Fatalf("instance %s ended before it served:\n%s", name, in.out.String())
	case <-timer.C:
		t.Fatalf("instance %s did not serve within %v", name, waitTimeout)
	}
	return in
}

// stop interrupts the instance, as Ctrl-C would, and fails t unless it
// shuts down cleanly; one that does not end is killed.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	if err := in.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("instance %s: interrupt: %v", in.name, err)
	}
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case <-in.done:
	case <-timer.C:
		t.Errorf("instance %s did not end within %v of an interrupt; killing it", in.name, waitTimeout)
		_ = in.cmd.Process.Kill() // fails only if it has ended meanwhile
		<-in.done
	}
	if err := in.cmd.Wait(); err != nil {
		t.Errorf("instance %s did not shut down cleanly: %v\n%s", in.name, err, in.out.String())
	}
}

// post posts a movement of qty units of sku in warehouse to the instance,
// through its HTTP API as the page does, and fails t unless it is accepted.
func (in *instance) post(t *testing.T, ctx context.Context, warehouse, sku, qty string) {
	t.Helper()
	form := url.Values{"sku": {sku}, "qty": {qty}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		in.url+"/stock/"+url.PathEscape(warehouse)+"/moves", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("instance %s: POST a movement: %v", in.name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("instance %s: POST a movement = %s; want 204 No Content", in.name, resp.Status)
	}
}

// requireFollows returns once instance to has heard of a commit of
// instance from, or fails t. A runtime follows the other processes' commits
// from a moment after it starts, once its store listens to the database;
// a commit before that moment reaches its pages only with a later one. So
// this posts movements of warehouse to from until the event stream of
// warehouse on to shows one.
func requireFollows(t *testing.T, ctx context.Context, from, to *instance, warehouse string) {
	t.Helper()
	sctx, cancel := context.WithCancel(ctx)
	st := stockdashtest.OpenStream(t, sctx, to.url+"/stock/"+url.PathEscape(warehouse)+"/events")
	first, err := st.Next()
	if err != nil {
		cancel()
		t.Fatalf("instance %s: %v", to.name, err)
	}
	if first.Name != "deleted" {
		cancel()
		t.Fatalf("instance %s: the first frame of %s is %q; want deleted, the warehouse being new", to.name, warehouse, first.Name)
	}

	type next struct {
		ev  stockdashtest.Event
		err error
	}
	nexts := make(chan next)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := st.Next()
			select {
			case nexts <- next{ev, err}:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(quit)
		cancel() // ends a Next in progress
		<-done
	}()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		from.post(t, ctx, warehouse, "probe", "1")
		select {
		case n := <-nexts:
			if n.err != nil {
				t.Fatalf("instance %s: %v", to.name, n.err)
			}
			return
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("instance %s did not hear of instance %s's commits: %v", to.name, from.name, ctx.Err())
		}
	}
}

// act runs actions in a page and fails t with what if they fail.
func act(t *testing.T, page context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(page, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Ensure that two instances of the dashboard on one database show each
// other's movements live: a click on a page of one instance shows, without
// a reload, on a page open on the other, and the other way round, each
// instance a process of its own with its own store.
func TestDashboard_TwoInstances_ClickShowsOnTheOther(t *testing.T) {
	dbURL := pgURL(t)
	stockdashtest.RequireChromium(t)
	t.Cleanup(http.DefaultClient.CloseIdleConnections) // last: after the instances end
	table := newTable(t, dbURL)
	a := startInstance(t, "A", dbURL, table)
	b := startInstance(t, "B", dbURL, table)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	requireFollows(t, ctx, a, b, "probe-a")
	requireFollows(t, ctx, b, a, "probe-b")

	// One browser with a tab on each instance, as someone comparing them
	// would have.
	tabB := stockdashtest.NewTab(t)
	tabA, closeA := chromedp.NewContext(tabB)
	defer closeA()
	// The first run opens the tab, which lives as long as that run's
	// context: it must be the tab's own.
	act(t, tabA, "open a second tab")
	pageA, cancelA := context.WithTimeout(tabA, waitTimeout)
	defer cancelA()
	pageB, cancelB := context.WithTimeout(tabB, waitTimeout)
	defer cancelB()
	act(t, pageA, "open A's page", chromedp.Navigate(a.url+"/?warehouse=berlin"))
	act(t, pageB, "open B's page", chromedp.Navigate(b.url+"/?warehouse=berlin"))
	stockdashtest.WaitFor(t, pageA, "an empty warehouse on A", stockdashtest.Shows(0, 0, nil))
	stockdashtest.WaitFor(t, pageB, "an empty warehouse on B", stockdashtest.Shows(0, 0, nil))

	act(t, pageA, "click on A's page", chromedp.Click(chromedp.CSS("#move-apple-plus1")))
	one := stockdashtest.Shows(1, 1, map[string]int{"apple": 1})
	stockdashtest.WaitFor(t, pageA, "the movement clicked on A, on A", one)
	stockdashtest.WaitFor(t, pageB, "the movement clicked on A, on B", one)

	act(t, pageB, "click on B's page", chromedp.Click(chromedp.CSS("#move-pear-plus10")))
	two := stockdashtest.Shows(2, 11, map[string]int{"apple": 1, "pear": 10})
	stockdashtest.WaitFor(t, pageB, "the movement clicked on B, on B", two)
	stockdashtest.WaitFor(t, pageA, "the movement clicked on B, on A", two)
	for _, page := range []context.Context{pageA, pageB} {
		stockdashtest.WaitFor(t, page, "no error", `document.getElementById("error").textContent === ""`)
	}
}
