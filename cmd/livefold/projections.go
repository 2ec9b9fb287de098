package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	bolt "go.etcd.io/bbolt"
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
inline size.

  -json        print a JSON array of {"name","keys","bytes","in_use"}
  -timeout d   wait at most d for a file locked by a writer (default 500ms)`,
		run: runProjections,
	}
}

// projectionInfo describes one projection (bucket) of a file.
type projectionInfo struct {
	Name  string `json:"name"`
	Keys  int    `json:"keys"`
	Bytes int64  `json:"bytes"`
	InUse int64  `json:"in_use"`

	stats bolt.BucketStats // for the stats command
}

// readProjections lists the projections of tx in name order. Top-level keys
// that are not buckets are not projections and are left out (verify reports
// them).
func readProjections(ctx context.Context, tx *bolt.Tx) ([]projectionInfo, error) {
	var out []projectionInfo
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		st := b.Stats()
		out = append(out, projectionInfo{
			Name:  string(name),
			Keys:  st.KeyN,
			Bytes: int64(st.BranchAlloc + st.LeafAlloc + st.InlineBucketInuse),
			InUse: int64(st.BranchInuse + st.LeafInuse + st.InlineBucketInuse),
			stats: st,
		})
		return nil
	})
	return out, err
}

func runProjections(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("projections")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := timeoutFlag(fs)
	pos, err := parseArgs(fs, args, "FILE")
	if err != nil {
		return err
	}
	db, err := e.openFile(pos[0], *timeout, false)
	if err != nil {
		return err
	}
	defer db.Close()

	var infos []projectionInfo
	if err := db.View(func(tx *bolt.Tx) error {
		infos, err = readProjections(ctx, tx)
		return err
	}); err != nil {
		return fmt.Errorf("livefold: %s: %w", pos[0], err)
	}
	if *asJSON {
		if infos == nil {
			infos = []projectionInfo{}
		}
		return writeJSON(e.stdout, infos)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECTION\tKEYS\tBYTES\tIN USE")
	for _, p := range infos {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", displayKey(p.Name), p.Keys, p.Bytes, p.InUse)
	}
	return tw.Flush()
}
