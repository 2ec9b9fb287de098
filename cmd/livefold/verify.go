package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/livefold/livefold/store"

	bolt "go.etcd.io/bbolt"
)

// maxPageErrors bounds the page errors verify collects: a badly damaged file
// yields one per page, and the first few say enough.
const maxPageErrors = 100

func verifyCommand() command {
	return command{
		name:     "verify",
		synopsis: "[-json] [-progress] [-timeout d] FILE",
		summary:  "check every record and bbolt's pages",
		help: `
Runs bbolt's consistency check over FILE's pages, then reads every record of
every projection and verifies it as boltstore does (length, format byte,
CRC-32C checksum, non-zero version). Lists every damaged record with its
projection, key and reason, and exits with status 1 if any record or page is
damaged. Nothing is modified.

  -json        print {"file","projections","records","damaged":[{"projection",
               "key","reason"}],"page_errors":[...]}
  -progress    draw a progress line on stderr (default: when it is a terminal)
  -timeout d   wait at most d for a file locked by a writer (default 500ms)`,
		run: runVerify,
	}
}

// damagedJSON is one damaged record in verify's JSON output.
type damagedJSON struct {
	Projection string `json:"projection"`
	Key        string `json:"key"`
	Reason     string `json:"reason"`
}

// verifyReport is what verify found.
type verifyReport struct {
	File        string        `json:"file"`
	Projections int           `json:"projections"`
	Records     int64         `json:"records"`
	Damaged     []damagedJSON `json:"damaged"`
	PageErrors  []string      `json:"page_errors"`
}

func runVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("verify")
	asJSON := fs.Bool("json", false, "print JSON")
	var prog optionalBool
	fs.Var(&prog, "progress", "draw a progress line on stderr")
	timeout := timeoutFlag(fs)
	pos, err := parseArgs(fs, args, "FILE")
	if err != nil {
		return err
	}
	file := pos[0]
	db, err := e.openFile(file, *timeout, false)
	if err != nil {
		return err
	}
	defer db.Close()

	rep := verifyReport{File: file, Damaged: []damagedJSON{}, PageErrors: []string{}}
	var checked atomic.Int64
	show := showProgress(prog, e.stderr)
	var p *progress
	// Ends the progress goroutine also when bbolt panics on a damaged page.
	defer func() { p.finish(false) }()
	err = db.View(func(tx *bolt.Tx) error {
		rep.PageErrors = checkPages(tx)
		var total int64
		if show {
			total = countRecordsSafely(tx)
		}
		p = startProgress(show, prog.set, e.stderr, "verify", total, false, checked.Load)
		var scan recordScan
		err := scanRecordsSafely(ctx, tx, &checked, &scan)
		for _, ce := range scan.bad {
			rep.Damaged = append(rep.Damaged, damagedJSON{Projection: ce.Bucket, Key: ce.Key, Reason: ce.Reason})
		}
		rep.Projections = scan.projections
		if errors.Is(err, errDamaged) {
			// The pages are damaged: report what was found up to there.
			rep.PageErrors = append(rep.PageErrors, fmt.Sprintf("reading records stopped after %d: %s",
				checked.Load(), strings.TrimPrefix(err.Error(), errDamaged.Error()+": ")))
			return nil
		}
		return err
	})
	p.finish(err == nil && len(rep.PageErrors) == 0)
	rep.Records = checked.Load()
	if err != nil {
		return fmt.Errorf("livefold: verify %s: %w", file, err)
	}

	if *asJSON {
		if err := writeJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		for _, pe := range rep.PageErrors {
			fmt.Fprintf(e.stdout, "page error: %s\n", pe)
		}
		for _, d := range rep.Damaged {
			fmt.Fprintf(e.stdout, "damaged: projection %s key %s: %s\n", displayKey(d.Projection), displayKey(d.Key), d.Reason)
		}
		status := "ok"
		if len(rep.Damaged) > 0 || len(rep.PageErrors) > 0 {
			status = fmt.Sprintf("%d damaged record(s), %d page error(s)", len(rep.Damaged), len(rep.PageErrors))
		}
		fmt.Fprintf(e.stdout, "verified %d record(s) in %d projection(s): %s\n", rep.Records, rep.Projections, status)
	}
	switch {
	case len(rep.PageErrors) > 0:
		return fmt.Errorf("%w: %s: %d page error(s), %d damaged record(s) found",
			errDamaged, file, len(rep.PageErrors), len(rep.Damaged))
	case len(rep.Damaged) > 0:
		return fmt.Errorf("%w: %d of %d record(s) in %s", errDamagedRecords, len(rep.Damaged), rep.Records, file)
	}
	return nil
}

// checkPages runs bbolt's consistency check and returns its first errors.
func checkPages(tx *bolt.Tx) []string {
	out := []string{}
	// Check's goroutine ends after it closed the channel; drain it whole.
	for err := range tx.Check() {
		if len(out) < maxPageErrors {
			out = append(out, err.Error())
		}
	}
	return out
}

// countRecordsSafely is countRecords, returning 0 when bbolt panics on a
// damaged page; the walk of the records will report it.
func countRecordsSafely(tx *bolt.Tx) (n int64) {
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	return countRecords(tx)
}

// scanRecordsSafely is scanRecords, turning a panic of bbolt on a damaged
// page into an error wrapping errDamaged; scan keeps what was found before.
func scanRecordsSafely(ctx context.Context, tx *bolt.Tx, checked *atomic.Int64, scan *recordScan) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errDamaged, r)
		}
	}()
	return scanRecords(ctx, tx, checked, scan)
}

// countRecords returns the number of keys in every projection, for the
// progress line. It reads the pages but no values.
func countRecords(tx *bolt.Tx) int64 {
	var n int64
	_ = tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
		if b != nil {
			n += int64(b.Stats().KeyN)
		}
		return nil
	})
	return n
}

// recordScan is what scanRecords found so far.
type recordScan struct {
	bad         []store.CorruptError
	projections int
}

// scanRecords verifies every record of every projection in key order and
// adds the damaged ones and the projections to scan; checked counts the
// records read. A top-level key that is not a bucket is reported as damaged
// with an empty projection.
func scanRecords(ctx context.Context, tx *bolt.Tx, checked *atomic.Int64, scan *recordScan) error {
	return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if b == nil {
			scan.bad = append(scan.bad, store.CorruptError{Key: string(name), Reason: "top-level key is not a projection bucket"})
			return nil
		}
		scan.projections++
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n := checked.Add(1); n%1024 == 1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if _, err := decodeValue(v, string(name), string(k)); err != nil {
				scan.bad = append(scan.bad, store.CorruptError{Bucket: string(name), Key: string(k), Reason: reasonOf(err)})
			}
		}
		return nil
	})
}
