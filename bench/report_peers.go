package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// peerRatio returns r's value over that of system's row of the same
// workload and unit.
func peerRatio(rows []row, r row, system string) (float64, bool) {
	p := findRow(rows, r.workload, system)
	if p == nil || p.value == 0 || p.unit != r.unit {
		return 0, false
	}
	return r.value / p.value, true
}

// syncFraction returns the durable commits per second r's system counted
// over its group's sync limit.
func syncFraction(r row) (float64, bool) {
	if r.syncs == 0 || r.syncLimit == 0 {
		return 0, false
	}
	return r.syncs / r.syncLimit, true
}

// writePeers prints, for every throughput of livefold's that a peer also
// measured or that counted commits, the ratio to each peer and the
// fraction of the sync limit its commits reached.
func writePeers(w io.Writer, rows []row) {
	var lines []string
	for _, r := range rows {
		if r.system != "livefold" || !strings.HasSuffix(r.unit, "/s") {
			continue
		}
		cells := []string{r.workload, humanize(r.value) + " " + r.unit}
		peered := false
		for _, p := range peers() {
			v, ok := peerRatio(rows, r, p)
			peered = peered || ok
			cells = append(cells, ratioCell(v, ok))
		}
		frac, ok := syncFraction(r)
		if !peered && !ok {
			continue
		}
		commits, limit, of := "—", "—", "—"
		if r.syncs > 0 {
			commits = humanize(r.syncs)
		}
		if r.syncLimit > 0 {
			limit = humanize(r.syncLimit)
		}
		if ok {
			of = fmt.Sprintf("%.0f%%", 100*frac)
		}
		lines = append(lines, "| "+strings.Join(append(cells, commits, limit, of), " | ")+" |")
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "### livefold against the peers")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "livefold's figure over each peer's in the same cell (above 1.00x livefold is ahead); livefold's "+
		"durable commits per second, and those over the sync limit: the syncs per second of a loop of 4 KiB overwrites of a preallocated file, "+
		"each followed by fdatasync, in the same directory, the mean of the probes just before and just after the cell's group.")
	fmt.Fprintln(w)
	head := []string{"workload", "livefold"}
	for _, p := range peers() {
		head = append(head, "vs "+p)
	}
	head = append(head, "commits/s", "sync limit (syncs/s)", "of the sync limit")
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	fmt.Fprintln(w, "|---|--:|"+strings.Repeat("--:|", len(head)-2))
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
}

func ratioCell(v float64, ok bool) string {
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.2fx", v)
}

// writeProbes prints the sync limit measured around each group.
func writeProbes(w io.Writer, probes []syncProbe, length time.Duration) {
	if len(probes) == 0 {
		return
	}
	parts := make([]string, len(probes))
	for i, p := range probes {
		parts[i] = fmt.Sprintf("%s %s → %s", p.group, humanize(p.before), humanize(p.after))
	}
	fmt.Fprintf(w, "Sync limit, syncs/s of 4 KiB overwrites of a preallocated file, each followed by fdatasync (%v per probe), before → after each group: %s.  \n",
		length, strings.Join(parts, "; "))
}
