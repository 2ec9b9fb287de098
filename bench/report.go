package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// row is one figure of the table.
type row struct {
	group    string  // workload group, as -only names it
	workload string  // the cell, e.g. "apply p=64 keys=10000"; rows of one cell are compared
	system   string  // a systemKind name, or the bus's name
	base     string  // the system the row is compared to; "" for baseline
	value    float64 // the figure
	unit     string  // e.g. "ev/s"
	cpu      float64 // cores busy on average during the cell; 0 when not measured
	allocs   float64 // heap allocations per operation; negative when not measured
	note     string  // what limited it, measured
	// syncs is the durable commits per second the system counted during
	// the cell (see system.syncs); 0 when it counts none.
	syncs float64
	// syncLimit is the sync limit of the row's group in syncs per second
	// (see syncProbe.limit); 0 until the group has ended.
	syncLimit float64
	target    string // the targets the row is held to, "; "-separated; empty if none
	status    string // "pass" or "FAIL" for each target, in the same order; empty if none
}

// target holds the rows of one workload and system to a bar.
type target struct {
	workload, system string
	text             string
	// needs, if set, names the system of the same workload the target
	// compares with: without that system's row (a peer -systems left out)
	// the target is not evaluated.
	needs string
	// met reports whether r meets the target; rows are all the rows, for
	// targets relative to another row.
	met func(r row, rows []row) bool
}

// evaluate fills in target and status of every row some target names; a
// row held to several targets lists each, with its status, in the order of
// targets.
func evaluate(rows []row, targets []target) {
	for _, t := range targets {
		for i := range rows {
			r := &rows[i]
			if r.workload != t.workload || r.system != t.system {
				continue
			}
			if t.needs != "" && findRow(rows, t.workload, t.needs) == nil {
				continue
			}
			status := "FAIL"
			if t.met(*r, rows) {
				status = "pass"
			}
			r.target = joinNonEmpty(r.target, t.text)
			r.status = joinNonEmpty(r.status, status)
		}
	}
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func findRow(rows []row, workload, system string) *row {
	for i := range rows {
		if rows[i].workload == workload && rows[i].system == system {
			return &rows[i]
		}
	}
	return nil
}

// ratio returns r's value over its base's (by default the baseline's) of
// the same workload.
func ratio(rows []row, r row) (float64, bool) {
	base := r.base
	if base == "" {
		base = baseline
	}
	b := findRow(rows, r.workload, base)
	if b == nil || b.value == 0 || b.unit != r.unit {
		return 0, false
	}
	return r.value / b.value, true
}

// writeTable prints rows as one markdown table.
func writeTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| workload | system | result | vs baseline | cpu (cores) | target | status | measured limits |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|---|---|---|")
	for _, r := range rows {
		rat := "—"
		if v, ok := ratio(rows, r); ok {
			rat = fmt.Sprintf("%.2fx", v)
			if r.base != "" {
				rat += " " + r.base
			}
		}
		cpu := "—"
		if r.cpu > 0 {
			cpu = fmt.Sprintf("%.2f", r.cpu)
		}
		fmt.Fprintf(w, "| %s | %s | %s %s | %s | %s | %s | %s | %s |\n",
			r.workload, r.system, humanize(r.value), r.unit, rat, cpu, dash(r.target), dash(r.status), dash(escape(r.note)))
	}
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// humanize prints v with thousands separators, keeping two decimals below 100.
func humanize(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	if math.Abs(v) < 100 {
		return fmt.Sprintf("%.2f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
