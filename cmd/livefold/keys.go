package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

func keysCommand() command {
	return command{
		name:     "keys",
		synopsis: "[-prefix p] [-limit n] [-json] [-timeout d] FILE PROJECTION",
		summary:  "list keys with version and updated_at",
		help: `
Lists the keys of PROJECTION in key (byte) order with each record's version and
updated_at (RFC 3339, UTC). A damaged record is listed as damaged with the
reason, and then the command exits with status 1 after listing the rest.

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
	db, err := e.openFile(file, *timeout, false)
	if err != nil {
		return err
	}
	defer db.Close()

	out := bufio.NewWriter(e.stdout)
	w := newKeysWriter(out, *asJSON)
	damaged := 0
	err = db.View(func(tx *bolt.Tx) error {
		b, err := projectionBucket(tx, file, projection)
		if err != nil {
			return err
		}
		w.begin()
		p := []byte(*prefix)
		c := b.Cursor()
		n := 0
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if *limit > 0 && n >= *limit {
				break
			}
			if n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			n++
			ent := keyEntry{Key: string(k)}
			if r, err := decodeValue(v, projection, ent.Key); err != nil {
				ent.Damaged = reasonOf(err)
				damaged++
			} else {
				ent.Version, ent.UpdatedAt, ent.Position = r.Version, jsonTime(r.UpdatedAt), r.Position
			}
			w.entry(ent)
		}
		w.end()
		return nil
	})
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

// keysWriter writes the listing as it is read, so that a listing of millions
// of keys does not have to fit in memory.
type keysWriter struct {
	w      *bufio.Writer
	asJSON bool
	first  bool
}

func newKeysWriter(w *bufio.Writer, asJSON bool) *keysWriter {
	return &keysWriter{w: w, asJSON: asJSON, first: true}
}

func (k *keysWriter) begin() {
	if k.asJSON {
		k.w.WriteString("[")
		return
	}
	// Key last: the other columns have a bounded width, so the listing
	// aligns without buffering it whole.
	fmt.Fprintf(k.w, "%8s  %-30s  %s\n", "VERSION", "UPDATED_AT", "KEY")
}

func (k *keysWriter) entry(e keyEntry) {
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
	if !k.asJSON {
		return
	}
	if !k.first {
		k.w.WriteString("\n")
	}
	k.w.WriteString("]\n")
}
