package stockdashtest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

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
func requireProcessesEnd(t testing.TB, procs []proc, timeout time.Duration) {
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
