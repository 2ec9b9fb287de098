package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

func statsCommand() command {
	return command{
		name:     "stats",
		synopsis: "[-json] [-timeout d] FILE",
		summary:  "file, page and per-projection statistics",
		help: `
Prints FILE's size, bbolt's page size, last transaction id, the size of the
data as bbolt sees it and its free pages, bbolt's B+tree statistics summed over
every projection, then per projection its keys, tree depth, pages and bytes,
and the total number of records. These describe the file alone: "log records"
counts the records of a log left beside it by a store that stopped without
Close, which the file lacks.

  -json        print the same as one JSON object
  -timeout d   wait at most d for a file locked by a writer (default 500ms)`,
		run: runStats,
	}
}

// treeStats are bbolt's B+tree statistics of one projection or of all.
type treeStats struct {
	Keys           int   `json:"keys"`
	Depth          int   `json:"depth"`
	BranchPages    int   `json:"branch_pages"`
	BranchOverflow int   `json:"branch_overflow_pages"`
	LeafPages      int   `json:"leaf_pages"`
	LeafOverflow   int   `json:"leaf_overflow_pages"`
	InlineBuckets  int   `json:"inline_buckets"`
	AllocatedBytes int64 `json:"allocated_bytes"`
	InUseBytes     int64 `json:"in_use_bytes"`
	NestedBuckets  int   `json:"nested_buckets"` // buckets below the projection's own; boltstore creates none
}

func newTreeStats(st bolt.BucketStats) treeStats {
	return treeStats{
		Keys:           st.KeyN,
		Depth:          st.Depth,
		BranchPages:    st.BranchPageN,
		BranchOverflow: st.BranchOverflowN,
		LeafPages:      st.LeafPageN,
		LeafOverflow:   st.LeafOverflowN,
		InlineBuckets:  st.InlineBucketN,
		AllocatedBytes: int64(st.BranchAlloc + st.LeafAlloc + st.InlineBucketInuse),
		InUseBytes:     int64(st.BranchInuse + st.LeafInuse + st.InlineBucketInuse),
		NestedBuckets:  st.BucketN - 1,
	}
}

// projectionStats is one projection in the stats output.
type projectionStats struct {
	Name string `json:"name"`
	treeStats
}

// statsReport is the output of stats.
type statsReport struct {
	File         string            `json:"file"`
	FileBytes    int64             `json:"file_bytes"`
	PageSize     int               `json:"page_size"`
	TxID         int               `json:"tx_id"`
	DataBytes    int64             `json:"data_bytes"` // bbolt's high-water mark, the file's used part
	FreePages    int               `json:"free_pages"`
	FreeBytes    int64             `json:"free_bytes"`
	Total        treeStats         `json:"total"`
	Projections  []projectionStats `json:"projections"`
	TotalRecords int               `json:"total_records"`
	LogRecords   int               `json:"log_records"` // in a leftover log, which the figures above do not count
}

// bucketStats are bbolt's statistics of one bucket.
type bucketStats struct {
	name  string
	stats bolt.BucketStats
}

// readBucketStats returns the statistics of every bucket of tx in name
// order. Top-level keys that are not buckets are left out, and so are
// buckets whose names are not valid UTF-8: no projection can have such a
// name, and boltstore keeps its own records under one.
func readBucketStats(ctx context.Context, tx *bolt.Tx) ([]bucketStats, error) {
	var out []bucketStats
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b != nil && utf8.Valid(name) {
			out = append(out, bucketStats{name: string(name), stats: b.Stats()})
		}
		return nil
	})
	return out, err
}

func runStats(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("stats")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := timeoutFlag(fs)
	pos, err := parseArgs(fs, args, "FILE")
	if err != nil {
		return err
	}
	file := pos[0]
	// The store is opened for what it reads of the log; the statistics are
	// bbolt's, of the file alone.
	st, err := e.openStore(file, *timeout, false)
	if err != nil {
		return err
	}
	defer st.Close()
	db, err := openReadOnly(file, *timeout, true)
	if err != nil {
		return err
	}
	defer db.Close()

	rep := statsReport{File: file, PageSize: db.Info().PageSize, Projections: []projectionStats{}, LogRecords: st.LogRecords()}
	if fi, err := os.Stat(file); err == nil {
		rep.FileBytes = fi.Size()
	}
	rep.FreePages = db.Stats().FreePageN
	rep.FreeBytes = int64(rep.FreePages) * int64(rep.PageSize)
	err = db.View(func(tx *bolt.Tx) error {
		rep.TxID = tx.ID()
		rep.DataBytes = tx.Size()
		infos, err := readBucketStats(ctx, tx)
		if err != nil {
			return err
		}
		var total bolt.BucketStats
		for _, p := range infos {
			total.Add(p.stats)
			rep.Projections = append(rep.Projections, projectionStats{Name: p.name, treeStats: newTreeStats(p.stats)})
		}
		rep.Total = newTreeStats(total)
		rep.Total.NestedBuckets = total.BucketN - len(infos)
		rep.TotalRecords = total.KeyN
		return nil
	})
	if err != nil {
		return fmt.Errorf("livefold: %s: %w", file, err)
	}
	if *asJSON {
		return writeJSON(e.stdout, rep)
	}
	return writeStatsText(e, rep)
}

func writeStatsText(e *env, rep statsReport) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s\n", rep.File)
	fmt.Fprintf(tw, "file size\t%d (%s)\n", rep.FileBytes, humanBytes(rep.FileBytes))
	fmt.Fprintf(tw, "page size\t%d\n", rep.PageSize)
	fmt.Fprintf(tw, "last tx id\t%d\n", rep.TxID)
	fmt.Fprintf(tw, "data size\t%d (%s)\n", rep.DataBytes, humanBytes(rep.DataBytes))
	fmt.Fprintf(tw, "free pages\t%d (%s)\n", rep.FreePages, humanBytes(rep.FreeBytes))
	t := rep.Total
	fmt.Fprintf(tw, "branch pages\t%d (+%d overflow)\n", t.BranchPages, t.BranchOverflow)
	fmt.Fprintf(tw, "leaf pages\t%d (+%d overflow)\n", t.LeafPages, t.LeafOverflow)
	fmt.Fprintf(tw, "inline projections\t%d\n", t.InlineBuckets)
	fmt.Fprintf(tw, "max depth\t%d\n", t.Depth)
	fmt.Fprintf(tw, "allocated\t%d (%s)\n", t.AllocatedBytes, humanBytes(t.AllocatedBytes))
	fmt.Fprintf(tw, "in use\t%d (%s)\n", t.InUseBytes, humanBytes(t.InUseBytes))
	fmt.Fprintf(tw, "projections\t%d\n", len(rep.Projections))
	fmt.Fprintf(tw, "total records\t%d\n", rep.TotalRecords)
	fmt.Fprintf(tw, "log records\t%d\n", rep.LogRecords)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Projections) == 0 {
		return nil
	}
	fmt.Fprintln(e.stdout)
	tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECTION\tKEYS\tDEPTH\tBRANCH\tLEAF\tOVERFLOW\tBYTES\tIN USE")
	for _, p := range rep.Projections {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", displayKey(p.Name), p.Keys, p.Depth,
			p.BranchPages, p.LeafPages, p.BranchOverflow+p.LeafOverflow, p.AllocatedBytes, p.InUseBytes)
	}
	return tw.Flush()
}
