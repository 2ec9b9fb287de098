package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// Exit statuses of run.
const (
	exitOK    = 0
	exitError = 1 // the command failed or found damage
	exitUsage = 2 // invalid arguments
)

// env is what a command writes to.
type env struct {
	stdout io.Writer
	stderr io.Writer
}

// run executes the command line args (without the program name) and returns
// the exit status. It is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		writeUsage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	if isHelpWord(name) {
		return runHelp(e, rest)
	}
	cmd, ok := lookupCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "livefold: unknown command %q\n\n", name)
		writeUsage(stderr)
		return exitUsage
	}
	err := safely(func() error { return cmd.run(ctx, e, rest) })
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		writeCommandHelp(stdout, cmd)
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "%v\nusage: livefold %s %s\nrun 'livefold help %s' for details\n",
			err, cmd.name, cmd.synopsis, cmd.name)
		return exitUsage
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(stderr, "livefold: %s interrupted: %v\n", cmd.name, err)
		return exitError
	default:
		fmt.Fprintln(stderr, err)
		return exitError
	}
}

// safely runs fn and turns a panic or a memory fault into errDamaged: bbolt
// trusts its pages and panics (or faults on the mapping) when they are
// damaged, and an inspector must report that rather than crash. bbolt's View
// rolls its transaction back while the panic unwinds, so the deferred Close of
// the command still completes.
func safely(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading it failed inside bbolt: %v", errDamaged, r)
		}
	}()
	return fn()
}
