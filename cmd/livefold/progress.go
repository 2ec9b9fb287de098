package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressInterval is the time between two redraws of a progress line: ten
// a second is smooth to the eye and costs nothing.
const progressInterval = 100 * time.Millisecond

// progressWidth is the number of cells of the bar.
const progressWidth = 30

// progress draws one line on a terminal, rewritten in place with "\r", from
// a goroutine that polls the work's counter; the counted loop itself only
// bumps an integer. The goroutine is owned by the progress and ends in
// finish, which the command calls before it writes anything else to stderr.
type progress struct {
	w     io.Writer
	label string
	total int64
	bytes bool // count and total are bytes, else records
	read  func() int64
	// forced is set by -progress: the final line is drawn even if the work
	// ended before the first tick.
	forced bool

	stop chan struct{}
	done chan struct{}

	// Only the drawing goroutine touches these until done is closed; finish
	// reads them after.
	drawn   bool
	lastLen int

	finished bool // finish ran; only the command's goroutine reads or sets it
}

// showProgress reports whether a progress line is wanted: as -progress says
// when it was given, else when stderr is a terminal.
func showProgress(flag optionalBool, stderr io.Writer) bool {
	if flag.set {
		return flag.value
	}
	f, ok := stderr.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// startProgress starts drawing the progress of work that reaches total, as
// read returns it, on w. It returns nil when show is false; a nil *progress
// is valid and draws nothing.
func startProgress(show, forced bool, w io.Writer, label string, total int64, bytes bool, read func() int64) *progress {
	if !show {
		return nil
	}
	p := &progress{
		w: w, label: label, total: total, bytes: bytes, read: read, forced: forced,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.draw(p.read(), false)
		}
	}
}

// finish stops the drawing goroutine, waits for it and ends the line, drawing
// it complete when complete is true. Later calls do nothing, so that a
// deferred finish can back up the one on the normal path.
func (p *progress) finish(complete bool) {
	if p == nil || p.finished {
		return
	}
	p.finished = true
	close(p.stop)
	<-p.done
	if !p.drawn && !p.forced {
		return
	}
	n := p.read()
	if complete {
		n = p.total
	}
	p.draw(n, complete)
	fmt.Fprintln(p.w)
}

// draw rewrites the line with n of total done. An estimated total may be
// passed before the work ends; the line then stays below 100% until final.
func (p *progress) draw(n int64, final bool) {
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(n) / float64(p.total)
	}
	if !final && pct > 99 {
		pct = 99
	}
	filled := int(pct) * progressWidth / 100
	bar := strings.Repeat("#", filled) + strings.Repeat(".", progressWidth-filled)
	var line string
	if p.bytes {
		line = fmt.Sprintf("%s [%s] %3.0f%% %s of ~%s", p.label, bar, pct, humanBytes(n), humanBytes(p.total))
	} else {
		line = fmt.Sprintf("%s [%s] %3.0f%% %d/%d records", p.label, bar, pct, n, p.total)
	}
	pad := ""
	if len(line) < p.lastLen {
		pad = strings.Repeat(" ", p.lastLen-len(line))
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.lastLen = len(line)
	p.drawn = true
}
