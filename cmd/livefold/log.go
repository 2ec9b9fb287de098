package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"text/tabwriter"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
)

func logCommand() command {
	return command{
		name:     "log",
		synopsis: "[-json] [-v] [-salvage] [-timeout d] FILE",
		summary:  "show the frames of the write-ahead log beside FILE; salvage a damaged one",
		help: `
Lists the parts of the write-ahead log beside FILE (FILE-wal, and
FILE-wal2, which takes turns with it from a checkpoint on), file by file in
the order boltstore.Open reads them, as Open treats them: frames of commits
FILE lacks (replay), frames a checkpoint already wrote into FILE (folded),
bytes that fail their checksum
while a frame of the same log follows them (damaged: acknowledged commits
lost to damage, which Open refuses), intact frames after damage (salvage),
a log older than FILE (ignored), and the tail (zeros, or a frame torn by a
crash, never acknowledged). For damage, the writes its bytes seem to hold
are listed, unverified. Neither FILE nor the log is changed; the exit status
is 1 when Open would refuse the log.

With -salvage, and only when the log is damaged, the damaged log file is
first copied to its name plus .damaged (which must not exist), the writes the damage cost are
listed, and FILE is opened with boltstore.WithLogSalvage, which replays every
intact frame, and closed, which folds them into FILE. The commits in the
damaged bytes are lost; a key whose later commits were lost keeps an older
version. This writes FILE and its log.

  -v           list the writes of every frame
  -json        print JSON
  -salvage     replay the intact frames of a damaged log into FILE
  -timeout d   wait at most d for a file locked by a writer (default 500ms)`,
		run: runLog,
	}
}

// logReport is the JSON form of a log file, and of the one Open reads after
// it.
type logReport struct {
	Log    string      `json:"log"`
	Size   int64       `json:"size"`
	Frames []frameJSON `json:"frames"`
	Replay int         `json:"replay_writes"`
	Error  string      `json:"error,omitempty"`
	Next   *logReport  `json:"next,omitempty"`
}

type frameJSON struct {
	Offset     int64          `json:"offset"`
	Size       int64          `json:"size"`
	Generation uint64         `json:"generation"`
	State      string         `json:"state"`
	Writes     []logWriteJSON `json:"writes"`
}

type logWriteJSON struct {
	Projection string `json:"projection"`
	Key        string `json:"key"`
	Version    uint64 `json:"version"`
	Delete     bool   `json:"delete,omitempty"`
}

func runLog(ctx context.Context, e *env, args []string) error {
	flags := newFlagSet("log")
	asJSON := flags.Bool("json", false, "print JSON")
	verbose := flags.Bool("v", false, "list the writes of every frame")
	salvage := flags.Bool("salvage", false, "replay the intact frames of a damaged log into FILE")
	timeout := timeoutFlag(flags)
	pos, err := parseArgs(flags, args, "FILE")
	if err != nil {
		return err
	}
	file := pos[0]
	if err := checkFile(file); err != nil {
		return err
	}
	rep, err := boltstore.InspectLog(file, boltstore.WithOpenTimeout(*timeout))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(file); serr == nil {
			return fmt.Errorf("%w: no log beside %s", errNoLog, file)
		}
	}
	if err != nil {
		return openError(file, *timeout, err)
	}
	if *asJSON {
		if err := writeJSON(e.stdout, logJSON(rep)); err != nil {
			return err
		}
	} else {
		writeLogText(e.stdout, rep, *verbose || *salvage)
	}
	refused := rep
	for refused != nil && refused.Err == nil {
		refused = refused.Next
	}
	if !*salvage {
		if refused != nil {
			return fmt.Errorf("%w: %w", errLog, refused.Err)
		}
		return nil
	}
	if refused == nil || !errors.Is(refused.Err, store.ErrCorrupt) {
		return fmt.Errorf("%w: the log of %s is not damaged; there is nothing to salvage", errUsage, file)
	}
	return salvageLog(ctx, e, file, refused)
}

// salvageLog keeps a copy of the damaged log and replays its intact frames
// into file.
func salvageLog(ctx context.Context, e *env, file string, rep *boltstore.LogReport) error {
	keep := rep.Path + ".damaged"
	data, err := os.ReadFile(rep.Path)
	if err != nil {
		return fmt.Errorf("livefold: %w", err)
	}
	f, err := os.OpenFile(keep, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s (a copy of an earlier salvage?)", errDestExists, keep)
	}
	if err != nil {
		return fmt.Errorf("livefold: keep a copy of the log: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("livefold: keep a copy of the log: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := boltstore.Open(file, boltstore.WithLogSalvage())
	if err != nil {
		return fmt.Errorf("livefold: salvage %s: %w", file, err)
	}
	replayed := st.LogRecords()
	if err := st.Close(); err != nil {
		return fmt.Errorf("livefold: salvage %s: %w", file, err)
	}
	fmt.Fprintf(e.stdout, "salvaged: %d write(s) replayed into %s; the damaged log is kept as %s\n", replayed, file, keep)
	return nil
}

// writeLogText writes each log file of rep as a table of frames and a
// summary.
func writeLogText(w io.Writer, rep *boltstore.LogReport, writes bool) {
	for ; rep != nil; rep = rep.Next {
		writeLogFileText(w, rep, writes)
	}
}

// writeLogFileText writes one log file as a table of frames and a summary.
func writeLogFileText(w io.Writer, rep *boltstore.LogReport, writes bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OFFSET\tSIZE\tGENERATION\tSTATE\tWRITES")
	lost := 0
	for _, f := range rep.Frames {
		n := fmt.Sprint(len(f.Writes))
		if f.State == boltstore.FrameDamaged {
			lost += len(f.Writes)
			if f.Writes == nil {
				n = "?"
			}
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\n", f.Offset, f.Size, f.Generation, f.State, n)
		if writes || f.State == boltstore.FrameDamaged {
			for _, lw := range f.Writes {
				if lw.Delete {
					fmt.Fprintf(tw, "\t\t\t\t  delete %s %s\n", displayKey(lw.Bucket), displayKey(lw.Key))
				} else {
					fmt.Fprintf(tw, "\t\t\t\t  %s %s version %d\n", displayKey(lw.Bucket), displayKey(lw.Key), lw.Version)
				}
			}
		}
	}
	_ = tw.Flush()
	switch {
	case rep.Err != nil:
		fmt.Fprintf(w, "%s: Open refuses it: %v\n", rep.Path, rep.Err)
		if lost > 0 {
			fmt.Fprintf(w, "the damaged bytes seem to hold %d write(s), lost; -salvage replays the intact frames\n", lost)
		}
	case rep.Ignored != "":
		fmt.Fprintf(w, "%s: Open ignores it: %s\n", rep.Path, rep.Ignored)
	default:
		fmt.Fprintf(w, "%s: Open replays %d write(s) into the file\n", rep.Path, rep.Writes)
	}
}

func logJSON(rep *boltstore.LogReport) logReport {
	out := logReport{Log: rep.Path, Size: rep.Size, Frames: []frameJSON{}, Replay: rep.Writes}
	if rep.Err != nil {
		out.Error = rep.Err.Error()
		out.Replay = 0
	}
	for _, f := range rep.Frames {
		fj := frameJSON{Offset: f.Offset, Size: f.Size, Generation: f.Generation, State: f.State.String(), Writes: []logWriteJSON{}}
		for _, w := range f.Writes {
			fj.Writes = append(fj.Writes, logWriteJSON{Projection: w.Bucket, Key: w.Key, Version: w.Version, Delete: w.Delete})
		}
		out.Frames = append(out.Frames, fj)
	}
	if rep.Next != nil {
		next := logJSON(rep.Next)
		out.Next = &next
	}
	return out
}
