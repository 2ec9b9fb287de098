package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
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
every projection through boltstore, as the application would read them, and
verifies it (length, format byte, CRC-32C checksum, non-zero version). Lists
every damaged record with its projection, key and reason, and exits with
status 1 if any record or page is damaged. A projection none of whose records
is a livefold record (a bucket of a bbolt file that livefold did not write) is
reported once, not record by record.

A write-ahead log left beside FILE by a store that stopped without Close is
read in memory and its records verified with the others; verify then exits
with status 1 and says how many records FILE lacks until the store is opened
once with boltstore.Open and closed. Nothing is modified.

  -json        print {"file","projections","records","damaged":[{"projection",
               "key","reason"}],"not_livefold":[{"projection","records",
               "example"}],"page_errors":[...],"log_records"}
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
	NotLivefold []foreignJSON `json:"not_livefold"`
	PageErrors  []string      `json:"page_errors"`
	LogRecords  int           `json:"log_records"`

	// foreignFile: every projection that has records is in NotLivefold.
	foreignFile bool
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
	// Records are read through the store, the log's included, as the
	// application would read them; bbolt's page check reads the file.
	st, err := e.openStore(file, *timeout, true)
	if err != nil {
		return err
	}
	defer st.Close()
	db, err := openReadOnly(file, *timeout, false)
	if err != nil {
		return err
	}
	defer db.Close()

	rep := verifyReport{
		File: file, Damaged: []damagedJSON{}, NotLivefold: []foreignJSON{}, PageErrors: []string{},
		LogRecords: st.LogRecords(),
	}
	if err := db.View(func(tx *bolt.Tx) error {
		rep.PageErrors = checkPages(tx)
		return nil
	}); err != nil {
		return fmt.Errorf("livefold: verify %s: %w", file, err)
	}

	var checked atomic.Int64
	show := showProgress(prog, e.stderr)
	var p *progress
	// Ends the progress goroutine also when bbolt panics on a damaged page.
	defer func() { p.finish(false) }()
	var scan recordScan
	err = scanRecordsSafely(ctx, st, &checked, &scan, func(total int64) {
		p = startProgress(show, prog.set, e.stderr, "verify", total, false, checked.Load)
	})
	if errors.Is(err, errDamaged) || errors.Is(err, store.ErrCorrupt) {
		// The pages are damaged (boltstore reports a damaged page as
		// ErrCorrupt): report what was found up to there.
		rep.PageErrors = append(rep.PageErrors, fmt.Sprintf("reading records stopped after %d: %s",
			checked.Load(), strings.TrimPrefix(err.Error(), errDamaged.Error()+": ")))
		err = nil
	}
	p.finish(err == nil && len(rep.PageErrors) == 0)
	rep.Records = checked.Load()
	if err != nil {
		return fmt.Errorf("livefold: verify %s: %w", file, err)
	}
	scan.report(&rep)

	if *asJSON {
		if err := writeJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		writeVerifyText(e, rep)
	}
	return verifyError(rep)
}

// writeVerifyText writes rep as text: the problems, then one status line.
func writeVerifyText(e *env, rep verifyReport) {
	for _, pe := range rep.PageErrors {
		fmt.Fprintf(e.stdout, "page error: %s\n", pe)
	}
	for _, f := range rep.NotLivefold {
		fmt.Fprintln(e.stdout, f)
	}
	for _, d := range rep.Damaged {
		fmt.Fprintf(e.stdout, "damaged: projection %s key %s: %s\n", displayKey(d.Projection), displayKey(d.Key), d.Reason)
	}
	if rep.LogRecords > 0 {
		fmt.Fprintf(e.stdout, "log: %s; they were verified with the file's records; %s\n",
			logNote(rep.File, rep.LogRecords), foldAdvice)
	}
	var found []string
	if n := len(rep.Damaged); n > 0 || len(rep.PageErrors) > 0 {
		found = append(found, fmt.Sprintf("%d damaged record(s), %d page error(s)", n, len(rep.PageErrors)))
	}
	if n := len(rep.NotLivefold); n > 0 {
		found = append(found, fmt.Sprintf("%d projection(s) not written by livefold", n))
	}
	if rep.LogRecords > 0 {
		found = append(found, fmt.Sprintf("%d record(s) only in the log", rep.LogRecords))
	}
	status := "ok"
	if len(found) > 0 {
		status = strings.Join(found, ", ")
	}
	fmt.Fprintf(e.stdout, "verified %d record(s) in %d projection(s): %s\n", rep.Records, rep.Projections, status)
}

// verifyError returns the error verify exits with for rep: damage first,
// then records that are not livefold's, then a log the file lacks, which
// is no damage but means that the file alone is not the store's content.
func verifyError(rep verifyReport) error {
	file := rep.File
	switch {
	case len(rep.PageErrors) > 0:
		return fmt.Errorf("%w: %s: %d page error(s), %d damaged record(s) found",
			errDamaged, file, len(rep.PageErrors), len(rep.Damaged))
	case rep.foreignFile:
		return foreignFileError(file, len(rep.NotLivefold))
	case len(rep.Damaged) > 0 && len(rep.NotLivefold) > 0:
		return fmt.Errorf("%w: %d of %d record(s) in %s, and %d projection(s) not written by livefold",
			errDamagedRecords, len(rep.Damaged), rep.Records, file, len(rep.NotLivefold))
	case len(rep.Damaged) > 0:
		return fmt.Errorf("%w: %d of %d record(s) in %s", errDamagedRecords, len(rep.Damaged), rep.Records, file)
	case len(rep.NotLivefold) > 0:
		return fmt.Errorf("%w: %s: %d projection(s) not written by livefold", errDamagedRecords, file, len(rep.NotLivefold))
	case rep.LogRecords > 0:
		return fmt.Errorf("%w: %s; %s", errLogPending, logNote(file, rep.LogRecords), foldAdvice)
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

// scanRecordsSafely is scanRecords, turning a panic of bbolt on a damaged
// page into an error wrapping errDamaged; scan keeps what was found before.
func scanRecordsSafely(ctx context.Context, st *boltstore.Store, checked *atomic.Int64, scan *recordScan, started func(total int64)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errDamaged, r)
		}
	}()
	return scanRecords(ctx, st, checked, scan, started)
}

// recordScan is what scanRecords found so far.
type recordScan struct {
	bad         []store.CorruptError
	foreign     []foreignJSON
	projections int
	nonEmpty    int // projections with at least one record
}

// scanRecords reads every record of every projection through the store, in
// projection and key order, as the application would read them (a leftover
// log's included), and adds what it finds to scan; checked counts the
// records read. started is called with the number of records once it is
// known, before the first is read.
func scanRecords(ctx context.Context, st *boltstore.Store, checked *atomic.Int64, scan *recordScan, started func(total int64)) error {
	infos, err := st.Buckets(ctx)
	if err != nil {
		return err
	}
	var total int64
	for _, b := range infos {
		total += int64(b.Keys)
	}
	started(total)
	seen := map[string]bool{}
	for _, b := range infos {
		// A projection counts once, whichever generations its buckets
		// hold; the generation records are verified, not counted.
		name := b.Name
		if n, _, later := projection.GenerationOf(b.Name); later {
			name = n
		}
		if !seen[name] && name != projection.GenerationsBucket {
			seen[name] = true
			scan.projections++
		}
		first := len(scan.bad) // this projection's damaged records start here
		var records, good int64
		for kr, err := range st.Scan(ctx, b.Name) {
			var ce *store.CorruptError
			switch {
			case errors.As(err, &ce):
				scan.bad = append(scan.bad, store.CorruptError{Bucket: b.Name, Key: kr.Key, Reason: ce.Reason})
			case err != nil:
				return err
			default:
				good++
			}
			records++
			checked.Add(1)
		}
		if records > 0 {
			scan.nonEmpty++
		}
		if good == 0 && records >= minForeignRecords {
			ex := scan.bad[first]
			scan.foreign = append(scan.foreign, newForeign(b.Name, records, ex.Key, &ex))
			scan.bad = scan.bad[:first]
		}
	}
	return nil
}

// report adds what scan found to rep.
func (scan *recordScan) report(rep *verifyReport) {
	for _, ce := range scan.bad {
		rep.Damaged = append(rep.Damaged, damagedJSON{Projection: ce.Bucket, Key: ce.Key, Reason: ce.Reason})
	}
	rep.NotLivefold = append(rep.NotLivefold, scan.foreign...)
	rep.Projections = scan.projections
	rep.foreignFile = len(scan.foreign) > 0 && len(scan.foreign) == scan.nonEmpty
}
