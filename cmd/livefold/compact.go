package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	bolt "go.etcd.io/bbolt"
)

// defaultTxMaxSize is how many bytes of keys and values compact copies per
// transaction: it bounds the memory of one transaction on large files, and
// each commit also moves the progress line.
const defaultTxMaxSize = 8 << 20

func compactCommand() command {
	return command{
		name:     "compact",
		synopsis: "[-progress] [-tx-max-size n] [-timeout d] FILE DEST",
		summary:  "write a compacted copy of FILE to DEST",
		help: `
Copies FILE into a new file DEST with bbolt's Compact: every projection and
record is rewritten into full pages, so DEST holds no free pages and is usually
smaller. Record bytes are copied as they are, damaged ones included. FILE is
opened read-only and is not modified; DEST must not exist (it is never
overwritten) and is deleted again if the copy fails. Prints the sizes before
and after.

A write-ahead log left beside FILE by a store that stopped without Close
holds commits FILE lacks, which a copy of FILE would lose: compact then
refuses and writes nothing. Open the store once with boltstore.Open and close
it, which folds the log into FILE, then compact.

Once the copy started it runs to its end: the first interrupt is ignored, a
second one kills the process and may leave a partial DEST to delete by hand.

  -progress       draw a progress line on stderr (default: when it is a terminal)
  -tx-max-size n  bytes of keys and values per transaction (default 8 MiB;
                  0 copies in one transaction)
  -timeout d      wait at most d for a file locked by a writer (default 500ms)`,
		run: runCompact,
	}
}

func runCompact(ctx context.Context, e *env, args []string) (err error) {
	flags := newFlagSet("compact")
	var prog optionalBool
	flags.Var(&prog, "progress", "draw a progress line on stderr")
	txMax := flags.Int64("tx-max-size", defaultTxMaxSize, "bytes of keys and values per transaction")
	timeout := timeoutFlag(flags)
	pos, err := parseArgs(flags, args, "FILE", "DEST")
	if err != nil {
		return err
	}
	if *txMax < 0 {
		return fmt.Errorf("%w: -tx-max-size must not be negative", errUsage)
	}
	file, dest := pos[0], pos[1]
	// The store reads the log beside FILE; its shared lock, held until the
	// copy ends, keeps a writer from starting a new log meanwhile.
	st, err := e.openStore(file, *timeout, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if n := st.LogRecords(); n > 0 {
		// bbolt's Compact copies the file alone: the copy would lack
		// commits that were acknowledged, and replacing FILE with it would
		// lose them.
		return fmt.Errorf("%w: %s; a copy would lack them, so none was written; %s, then compact",
			errLogPending, logNote(file, n), foldAdvice)
	}
	src, err := openReadOnly(file, *timeout, false)
	if err != nil {
		return err
	}
	defer src.Close()

	// O_EXCL creates DEST or fails: a file that appears between a check and
	// the open is never overwritten, and FILE itself (or a link to it) can
	// never be DEST.
	f, err := os.OpenFile(dest, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s; compact never overwrites, remove it or choose another name", errDestExists, dest)
	}
	if err != nil {
		return fmt.Errorf("livefold: create %s: %w", dest, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(dest)
		return fmt.Errorf("livefold: create %s: %w", dest, err)
	}
	defer func() {
		if err != nil {
			os.Remove(dest)
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}

	dst, err := bolt.Open(dest, 0o600, &bolt.Options{
		Timeout:  *timeout,
		PageSize: src.Info().PageSize,
		// One fsync at the end instead of one per intermittent commit: a DEST
		// that fails half-way is deleted anyway.
		NoSync: true,
	})
	if err != nil {
		return fmt.Errorf("livefold: open %s: %w", dest, err)
	}
	show := showProgress(prog, e.stderr)
	var total int64
	if show {
		total = estimateCopyBytes(src)
	}
	// The pages each committed transaction allocated in DEST approximate the
	// bytes copied so far, and bbolt updates them only on commit, which is
	// what the progress line can honestly show.
	p := startProgress(show, prog.set, e.stderr, "compact", total, true, func() int64 {
		st := dst.Stats()
		return st.TxStats.GetPageAlloc()
	})
	cerr := compactSafely(dst, src, *txMax)
	p.finish(cerr == nil)
	if cerr == nil {
		cerr = dst.Sync()
	}
	if clerr := dst.Close(); cerr == nil {
		cerr = clerr
	}
	if cerr != nil {
		return fmt.Errorf("livefold: compact %s into %s: %w", file, dest, cerr)
	}

	before, after := fileSize(file), fileSize(dest)
	fmt.Fprintf(e.stdout, "%s: %d bytes (%s)\n%s: %d bytes (%s)", file, before, humanBytes(before), dest, after, humanBytes(after))
	if before > 0 {
		fmt.Fprintf(e.stdout, ", %.1f%% of the original", 100*float64(after)/float64(before))
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// compactSafely runs bolt.Compact and turns a panic on a damaged FILE into
// an error, so that DEST is closed and deleted like after any other failure
// (Compact's deferred rollback has ended its transaction by then).
func compactSafely(dst, src *bolt.DB, txMax int64) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading it failed inside bbolt: %v", errDamaged, r)
		}
	}()
	return bolt.Compact(dst, src, txMax)
}

// estimateCopyBytes returns the bytes of FILE's pages in use, which the
// compacted copy will roughly take.
func estimateCopyBytes(db *bolt.DB) int64 {
	var n int64
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			if b != nil {
				st := b.Stats()
				n += int64(st.BranchInuse + st.LeafInuse)
			}
			return nil
		})
	})
	return n
}

// fileSize returns the size of path, 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
