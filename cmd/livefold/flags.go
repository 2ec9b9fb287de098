package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// defaultTimeout is how long a command waits for FILE's lock: short, because
// a file held by a running Store stays locked until that Store closes.
const defaultTimeout = 500 * time.Millisecond

// newFlagSet returns a flag set that reports errors to its caller instead of
// printing them, so that run decides what is printed and the exit status.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// timeoutFlag adds -timeout to fs.
func timeoutFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("timeout", defaultTimeout, "how long to wait for a file locked by another process")
}

// parseArgs parses fs from args, accepting flags before, between and after
// the positional arguments (the flag package stops at the first non-flag),
// and returns the positional arguments, which must number exactly len(names).
// "--" ends the flags. It returns flag.ErrHelp for -h, and errors wrapping
// errUsage otherwise.
func parseArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %w", errUsage, fs.Name(), err)
		}
		rest := fs.Args()
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != len(names) {
		return nil, fmt.Errorf("%w: %s needs %s, got %d argument(s)",
			errUsage, fs.Name(), strings.Join(names, " "), len(pos))
	}
	return pos, nil
}

// optionalBool is a boolean flag that remembers whether it was given, for
// -progress, whose default depends on whether stderr is a terminal.
type optionalBool struct {
	set   bool
	value bool
}

func (b *optionalBool) String() string {
	if b == nil {
		return "false"
	}
	return strconv.FormatBool(b.value)
}

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.set, b.value = true, v
	return nil
}

// IsBoolFlag lets the flag be given as plain -progress.
func (b *optionalBool) IsBoolFlag() bool { return true }
