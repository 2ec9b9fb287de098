package main

import "context"

// command is one subcommand of livefold.
type command struct {
	name     string
	synopsis string // arguments and flags, after the command name
	summary  string // one line for the command list
	help     string // the rest of 'livefold help NAME'
	run      func(ctx context.Context, e *env, args []string) error
}

// commands returns the subcommands in the order help lists them. It builds
// the table on each call so that the package keeps no mutable state.
func commands() []command {
	return []command{
		projectionsCommand(),
		keysCommand(),
		getCommand(),
		statsCommand(),
		verifyCommand(),
		compactCommand(),
		logCommand(),
	}
}

// lookupCommand returns the command called name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}
