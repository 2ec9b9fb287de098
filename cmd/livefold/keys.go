package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
)

func keysCommand() command {
	return command{
		name:     "keys",
		synopsis: "[-prefix p] [-limit n] [-json] [-timeout d] FILE PROJECTION",
		summary:  "list keys with version and updated_at",
		help: `
Lists the keys of PROJECTION in key (byte) order with each record's version and
updated_at (RFC 3339, UTC). A damaged record is listed as damaged with the
reason, and then the command exits with status 1 after listing the rest. A
projection none of whose records is a livefold record (a bucket of a bbolt
file that livefold did not write) is not listed: the command says so in one
line and exits with status 1.

  -prefix p    list only keys starting with p
  -limit n     list at most n keys (0, the default, lists all)
  -json        print a JSON array of {"key","version","updated_at","position"},
               or {"key","damaged"} for a damaged record
  -timeout d   wait at most d for a file locked by a writer (default 500ms)`,
		run: runKeys,
	}
}

// keyEntry is one line of the keys listing.
type keyEntry struct {
	Key       string  `json:"key"`
	Version   uint64  `json:"version,omitempty"`
	UpdatedAt *string `json:"updated_at,omitempty"`
	Position  uint64  `json:"position,omitempty"`
	Damaged   string  `json:"damaged,omitempty"`
}

func runKeys(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("keys")
	prefix := fs.String("prefix", "", "list only keys starting with `p`")
	limit := fs.Int("limit", 0, "list at most `n` keys; 0 lists all")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := timeoutFlag(fs)
	pos, err := parseArgs(fs, args, "FILE", "PROJECTION")
	if err != nil {
		return err
	}
	if *limit < 0 {
		return fmt.Errorf("%w: -limit must not be negative", errUsage)
	}
	file, projection := pos[0], pos[1]
	st, err := e.openStore(file, *timeout, false)
	if err != nil {
		return err
	}
	defer st.Close()
	bucket, err := currentBucket(ctx, st, projection)
	if err != nil {
		return readError(file, err)
	}

	if f, foreign, err := probeForeign(ctx, st, bucket); err != nil {
		return readError(file, err)
	} else if foreign {
		return foreignProjectionError(file, f)
	}
	out := bufio.NewWriter(e.stdout)
	w := newKeysWriter(out, *asJSON)
	damaged, listed, err := listKeys(ctx, st, bucket, *prefix, *limit, w)
	if err == nil && listed == 0 {
		// Nothing listed: the projection may not exist at all.
		err = checkProjection(ctx, st, file, bucket)
	}
	if err == nil {
		w.end()
	} else if !errors.Is(err, errNoProjection) {
		err = readError(file, err)
	}
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("livefold: writing output: %w", ferr)
	}
	if err != nil {
		return err
	}
	if damaged > 0 {
		return fmt.Errorf("%w: %d listed record(s) of %s in %s; run 'livefold verify %s'",
			errDamagedRecords, damaged, displayKey(projection), file, file)
	}
	return nil
}

// listKeys writes the records of projection whose keys start with prefix,
// at most limit of them unless limit is 0, to w in key order, and returns
// how many of them are damaged and how many it listed. w.end is the
// caller's.
func listKeys(ctx context.Context, st *boltstore.Store, projection, prefix string, limit int, w *keysWriter) (damaged, listed int, err error) {
	for kr, err := range st.Scan(ctx, projection) {
		if err != nil && !errors.Is(err, store.ErrCorrupt) {
			return damaged, listed, err
		}
		// Scan walks the projection from its first key: skip to the prefix,
		// and stop after the keys that have it.
		if kr.Key < prefix {
			continue
		}
		if !strings.HasPrefix(kr.Key, prefix) || (limit > 0 && listed >= limit) {
			break
		}
		listed++
		ent := keyEntry{Key: kr.Key}
		if err != nil {
			ent.Damaged = reasonOf(err)
			damaged++
		} else {
			ent.Version, ent.UpdatedAt, ent.Position = kr.Record.Version, jsonTime(kr.Record.UpdatedAt), kr.Record.Position
		}
		w.entry(ent)
	}
	return damaged, listed, nil
}

// keysWriter writes the listing as it is read, so that a listing of millions
// of keys does not have to fit in memory. It writes its header with the
// first entry, or at end, so that a command that fails before either (a
// missing projection) prints nothing.
type keysWriter struct {
	w       *bufio.Writer
	asJSON  bool
	started bool
	first   bool
}

func newKeysWriter(w *bufio.Writer, asJSON bool) *keysWriter {
	return &keysWriter{w: w, asJSON: asJSON, first: true}
}

func (k *keysWriter) begin() {
	if k.started {
		return
	}
	k.started = true
	if k.asJSON {
		k.w.WriteString("[")
		return
	}
	// Key last: the other columns have a bounded width, so the listing
	// aligns without buffering it whole.
	fmt.Fprintf(k.w, "%8s  %-30s  %s\n", "VERSION", "UPDATED_AT", "KEY")
}

func (k *keysWriter) entry(e keyEntry) {
	k.begin()
	if k.asJSON {
		b := compactJSON(e)
		if !k.first {
			k.w.WriteString(",")
		}
		k.w.WriteString("\n  ")
		k.w.Write(b)
		k.first = false
		return
	}
	switch {
	case e.Damaged != "":
		fmt.Fprintf(k.w, "%8s  %-30s  %s\n", "DAMAGED", e.Damaged, displayKey(e.Key))
	case e.UpdatedAt == nil:
		fmt.Fprintf(k.w, "%8d  %-30s  %s\n", e.Version, "-", displayKey(e.Key))
	default:
		fmt.Fprintf(k.w, "%8d  %-30s  %s\n", e.Version, *e.UpdatedAt, displayKey(e.Key))
	}
}

func (k *keysWriter) end() {
	k.begin()
	if !k.asJSON {
		return
	}
	if !k.first {
		k.w.WriteString("\n")
	}
	k.w.WriteString("]\n")
}
