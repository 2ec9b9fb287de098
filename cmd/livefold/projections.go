package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/livefold/livefold/projection"
)

func projectionsCommand() command {
	return command{
		name:     "projections",
		synopsis: "[-json] [-timeout d] FILE",
		summary:  "list projections with key counts and sizes",
		help: `
Lists every projection (bbolt bucket) of FILE in name order with its number of
keys, the bytes of the pages allocated to it and the bytes of them in use. A
small projection lives inline in its parent's page; both sizes are then its
inline size. Records still only in a leftover log are counted as keys but
take no bytes of the file. A projection rebuilt with RebuildAll is listed
with its current generation's figures, and one line after the table names
its generation, the code revision that built it, and any generation being
built or not yet removed.

A projection none of whose records is a livefold record (a bucket of a bbolt
file that livefold did not write) is listed, and said so in one line after
the table; when every projection that has records is such a bucket, FILE is
not a livefold file, and the command exits with status 1 after the listing.

  -json        print a JSON array of {"name","keys","bytes","in_use",
               "not_livefold"}
  -timeout d   wait at most d for a file locked by a writer (default 500ms)`,
		run: runProjections,
	}
}

// projectionInfo describes one projection (bucket) of a file.
type projectionInfo struct {
	Name        string `json:"name"`
	Keys        int    `json:"keys"`
	Bytes       int64  `json:"bytes"`
	InUse       int64  `json:"in_use"`
	NotLivefold bool   `json:"not_livefold,omitempty"`
}

func runProjections(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("projections")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := timeoutFlag(fs)
	pos, err := parseArgs(fs, args, "FILE")
	if err != nil {
		return err
	}
	st, err := e.openStore(pos[0], *timeout, false)
	if err != nil {
		return err
	}
	defer st.Close()

	buckets, err := st.Buckets(ctx)
	if err != nil {
		return readError(pos[0], err)
	}
	gens, err := generationsOf(ctx, st)
	if err != nil {
		return readError(pos[0], err)
	}
	infos := make([]projectionInfo, 0, len(buckets))
	var foreign []foreignJSON
	nonEmpty := 0
	for _, b := range buckets {
		if b.Name == projection.GenerationsBucket || notCurrent(gens, b.Name) {
			continue // listed under its projection, after the table
		}
		f, isForeign, err := probeForeign(ctx, st, b.Name)
		if err != nil {
			return readError(pos[0], err)
		}
		if isForeign {
			foreign = append(foreign, f)
		}
		if b.Keys > 0 {
			nonEmpty++
		}
		infos = append(infos, projectionInfo{Name: displayName(gens, b.Name), Keys: b.Keys, Bytes: b.Bytes, InUse: b.InUse, NotLivefold: isForeign})
	}
	if *asJSON {
		err = writeJSON(e.stdout, infos)
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PROJECTION\tKEYS\tBYTES\tIN USE")
		for _, p := range infos {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", displayKey(p.Name), p.Keys, p.Bytes, p.InUse)
		}
		err = tw.Flush()
		for _, f := range foreign {
			fmt.Fprintln(e.stdout, f)
		}
		printGenerations(e.stdout, gens)
	}
	if err != nil {
		return err
	}
	if len(foreign) > 0 && len(foreign) == nonEmpty {
		return foreignFileError(pos[0], len(foreign))
	}
	return nil
}
