package readme_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The README ties each block to what proves it with an HTML comment on the
// line before the block, which a Markdown viewer does not show:
//
//	<!-- file: PATH -->      the go block is the whole file PATH
//	<!-- excerpt: PATH -->   the go block is consecutive lines of PATH, less
//	                         their common indentation
//	<!-- output: COMMAND --> the text block is what COMMAND prints
//
// A go block without a marker fails the test. Shell blocks need no marker:
// each of their lines runs. With -update the test rewrites the file and
// output blocks from their sources instead of comparing them.
var update = flag.Bool("update", false, "rewrite README.md's file and output blocks from their sources")

// root is the repository, from this package's directory.
const root = "../.."

// block is one fenced block of the README.
type block struct {
	lang   string
	marker string   // the kind of the marker before it ("file", ...), or ""
	arg    string   // the marker's path or command
	line   int      // the 1-based line of its opening fence
	body   []string // its lines, without the fences
	start  int      // the index of its first body line in the README's lines
}

var markerRE = regexp.MustCompile(`^<!-- (file|excerpt|output): (.+?) -->$`)

// parse returns the README's lines and its fenced blocks.
func parse(t *testing.T, text string) ([]string, []block) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var blocks []block
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			continue
		}
		b := block{lang: lang, line: i + 1, start: i + 1}
		for j := i - 1; j >= 0; j-- {
			if strings.TrimSpace(lines[j]) == "" {
				continue
			}
			if m := markerRE.FindStringSubmatch(lines[j]); m != nil {
				b.marker, b.arg = m[1], m[2]
			}
			break
		}
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			b.body = append(b.body, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("README.md:%d: the block is not closed", b.line)
		}
		blocks = append(blocks, b)
	}
	return lines, blocks
}

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sourceLines returns the lines of the repository file p.
func sourceLines(t *testing.T, p string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
	if err != nil {
		t.Fatalf("README.md names %s: %v", p, err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// dedent removes the leading whitespace that every non-empty line shares.
func dedent(lines []string) []string {
	prefix := ""
	first := true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ws := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			prefix, first = ws, false
			continue
		}
		for !strings.HasPrefix(ws, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimPrefix(l, prefix)
	}
	return out
}

// isExcerpt reports whether body is consecutive lines of src, dedented,
// and not empty.
func isExcerpt(body, src []string) bool {
	if len(body) == 0 {
		return false
	}
	for i := 0; i+len(body) <= len(src); i++ {
		if slices.Equal(dedent(src[i:i+len(body)]), body) {
			return true
		}
	}
	return false
}

// Ensure that every Go block of the README is a file of the repository, or
// lines of one, so that what a reader copies is what the builds compile and
// the tests run (go vet ./... and go test ./... here, the metrics module's
// own in CI).
func TestREADME_GoBlocks_AreSources(t *testing.T) {
	text := readREADME(t)
	lines, blocks := parse(t, text)
	n := 0
	// Backwards, so that rewriting a block leaves the earlier ones in place.
	for _, b := range slices.Backward(blocks) {
		if b.lang != "go" {
			continue
		}
		n++
		switch b.marker {
		case "file":
			src := sourceLines(t, b.arg)
			if *update {
				lines = slices.Replace(lines, b.start, b.start+len(b.body), src...)
				continue
			}
			if !slices.Equal(b.body, src) {
				t.Errorf("README.md:%d: the block differs from %s; run go test ./internal/readme -update", b.line, b.arg)
			}
		case "excerpt":
			if !isExcerpt(b.body, sourceLines(t, b.arg)) {
				t.Errorf("README.md:%d: the block is not consecutive lines of %s", b.line, b.arg)
			}
		default:
			t.Errorf("README.md:%d: a go block needs a <!-- file: PATH --> or <!-- excerpt: PATH --> line before it", b.line)
		}
	}
	if n == 0 {
		t.Error("README.md has no go block")
	}
	if *update {
		writeREADME(t, text, lines)
	}
}

// writeREADME writes lines back if they differ from text.
func writeREADME(t *testing.T, text string, lines []string) {
	t.Helper()
	out := strings.Join(lines, "\n") + "\n"
	if out == text {
		return
	}
	if err := os.WriteFile(filepath.Join(root, "README.md"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log("rewrote README.md")
}

var goRunRE = regexp.MustCompile("go run (\\./[^\\s`]*)")

// buildCommands builds every package the README runs with "go run ./PKG",
// in shell blocks or in the text, into a directory, and returns the binary
// of each package path.
func buildCommands(t *testing.T, text string) map[string]string {
	t.Helper()
	bin := t.TempDir()
	pkgs := map[string]string{}
	for _, m := range goRunRE.FindAllStringSubmatch(text, -1) {
		pkgs[m[1]] = filepath.Join(bin, path.Base(m[1]))
	}
	if len(pkgs) == 0 {
		t.Fatal("README.md runs no package")
	}
	args := append([]string{"build", "-o", bin + string(filepath.Separator)}, slices.Sorted(maps.Keys(pkgs))...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return pkgs
}

// runLine runs one README command line in dir, with the binaries built from
// its packages, and returns its standard output.
func runLine(t *testing.T, dir string, bins map[string]string, line string) (string, error) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "go" || f[1] != "run" || bins[f[2]] == "" {
		t.Fatalf("README.md: cannot run %q: only go run ./PKG lines run", line)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins[f[2]], f[3:]...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%w\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), err
}

// shellLines returns the commands of a shell block: its lines less comments.
func shellLines(b block) []string {
	var out []string
	for _, l := range b.body {
		l, _, _ = strings.Cut(l, "#")
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// testCommand is the README's command that runs every test, this one
// included: it cannot run here, and CI runs it.
const testCommand = "go test ./..."

// Ensure that the README's shell blocks run as written, in order, in one
// fresh directory (each exits 0, and the inspector finds the file an example
// left), and that every output it shows is what its command prints there
// afterwards.
func TestREADME_Commands_Run(t *testing.T) {
	text := readREADME(t)
	lines, blocks := parse(t, text)
	bins := buildCommands(t, text)
	dir := t.TempDir()
	ran := 0
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		for _, l := range shellLines(b) {
			if l == testCommand {
				continue
			}
			if _, err := runLine(t, dir, bins, l); err != nil {
				t.Fatalf("README.md:%d: %s: %v", b.line, l, err)
			}
			ran++
		}
	}
	if ran == 0 {
		t.Fatal("README.md has no command to run")
	}
	// Backwards, so that rewriting a block leaves the earlier ones in place.
	for _, b := range slices.Backward(blocks) {
		if b.marker != "output" {
			continue
		}
		out, err := runLine(t, dir, bins, b.arg) // after the shell blocks, in their directory
		if err != nil {
			t.Fatalf("README.md:%d: %s: %v", b.line, b.arg, err)
		}
		got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if *update {
			lines = slices.Replace(lines, b.start, b.start+len(b.body), got...)
			continue
		}
		if !slices.Equal(b.body, got) {
			t.Errorf("README.md:%d: %s prints\n%s\nnot what the README shows; run go test ./internal/readme -update", b.line, b.arg, out)
		}
	}
	if *update {
		writeREADME(t, text, lines)
	}
}

// Ensure that the README's quick start is exactly its two commands: the
// example and the tests.
func TestREADME_QuickStart_TwoCommands(t *testing.T) {
	text := readREADME(t)
	_, after, ok := strings.Cut(text, "## Quick start\n")
	if !ok {
		t.Fatal("README.md has no Quick start section")
	}
	_, blocks := parse(t, after)
	if len(blocks) == 0 || blocks[0].lang != "sh" {
		t.Fatal("the Quick start section does not start with a sh block")
	}
	want := []string{"go run ./examples/quickstart", testCommand}
	if got := shellLines(blocks[0]); !slices.Equal(got, want) {
		t.Errorf("Quick start runs %q; want %q", got, want)
	}
}

// Ensure that every example takes -db, the file to keep its store in, as
// the README says.
func TestExamples_TakeDBFlag(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(root, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, e := range entries {
		if e.IsDir() {
			fmt.Fprintf(&text, "go run ./examples/%s\n", e.Name())
		}
	}
	bins := buildCommands(t, text.String())
	for pkg, bin := range bins {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "-h")
		cmd.Stderr = &stderr
		// flag's usage: exit status 0 for -h, 2 for a FlagSet that
		// continues on error.
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Errorf("%s -h: %v; want the usage", pkg, err)
			}
		}
		found := false
		for sc := bufio.NewScanner(&stderr); sc.Scan(); {
			found = found || strings.HasPrefix(strings.TrimSpace(sc.Text()), "-db ")
		}
		if !found {
			t.Errorf("%s takes no -db flag:\n%s", pkg, stderr.String())
		}
	}
}
