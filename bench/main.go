package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: it returns 0 when every check passed, 1 when one
// failed, 2 with -strict when a target was missed, and 64 for bad flags.
func run(args []string, out, progress io.Writer) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(progress, "bench:", err)
		return 64
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	h, err := newHarness(cfg, progress)
	if err != nil {
		fmt.Fprintln(progress, "bench:", err)
		return 1
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(progress, "bench: cpu profile:", err)
			_ = h.close()
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	h.run(ctx)
	if err := h.close(); err != nil {
		fmt.Fprintln(progress, "bench: removing temporary files:", err)
	}
	evaluate(h.rows, targets(cfg))
	report(out, cfg, args, h, time.Since(start))

	switch {
	case len(h.failures) > 0:
		return 1
	case cfg.strict && missed(h.rows) > 0:
		return 2
	}
	return 0
}

// missed returns the number of targets missed: a row held to several
// targets has a status for each.
func missed(rows []row) int {
	n := 0
	for _, r := range rows {
		n += strings.Count(r.status, "FAIL")
	}
	return n
}

// report prints the table, the checks and the run's settings as markdown.
func report(w io.Writer, cfg config, args []string, h *harness, took time.Duration) {
	fmt.Fprintf(w, "## livefold benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "Command: `cd bench && go run . %s`  \n", strings.Join(args, " "))
	fmt.Fprintf(w, "Machine: %s/%s, %d CPUs (GOMAXPROCS %d), %s. Duration per timed cell %v; run took %v.  \n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(),
		cfg.duration, took.Round(time.Second))
	fmt.Fprintf(w, "Disk: a 4 KiB write and fsync takes %v (median of 100) in the temporary directory; "+
		"bbolt syncs twice per commit (pages, then meta page), SQLite in WAL mode once.\n\n", h.fsync.Round(time.Microsecond))
	writeTable(w, h.rows)
	fmt.Fprintln(w)
	writePeers(w, h.rows)
	writeProbes(w, h.probes, h.probeLen)
	for _, n := range h.notes {
		fmt.Fprintf(w, "%s  \n", n)
	}
	if len(h.failures) == 0 {
		fmt.Fprintf(w, "Checks: all passed (%d figures).  \n", len(h.rows))
	} else {
		fmt.Fprintf(w, "Checks: %d FAILED:\n\n", len(h.failures))
		for _, f := range h.failures {
			fmt.Fprintf(w, "- %s\n", f)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Targets: %d missed.\n", missed(h.rows))
}
