package main

import (
	"fmt"
	"io"
	"strings"
)

// isHelpWord reports whether word asks for help in place of a command.
func isHelpWord(word string) bool {
	switch word {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// runHelp implements 'livefold help [COMMAND]'.
func runHelp(e *env, args []string) int {
	if len(args) == 0 {
		writeUsage(e.stdout)
		return exitOK
	}
	cmd, ok := lookupCommand(args[0])
	if !ok {
		fmt.Fprintf(e.stderr, "livefold: unknown command %q\n\n", args[0])
		writeUsage(e.stderr)
		return exitUsage
	}
	writeCommandHelp(e.stdout, cmd)
	return exitOK
}

// writeUsage writes the overview of every command.
func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("livefold inspects livefold snapshot files (bbolt).\n\n")
	b.WriteString("usage: livefold <command> [flags] FILE [args]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	b.WriteString("  help         show this help, or 'help COMMAND' for one command\n\n")
	b.WriteString("Every command but compact opens FILE read-only and never creates it.\n")
	b.WriteString("Exit status: 0 success, 1 failure or damage found, 2 invalid arguments.\n")
	io.WriteString(w, b.String())
}

// writeCommandHelp writes the help of one command.
func writeCommandHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "usage: livefold %s %s\n\n%s\n", c.name, c.synopsis, strings.TrimSpace(c.help))
}
