// Package readme holds no code: its test keeps the repository's README.md
// true. Every Go block of the README is a source file of the repository, or
// lines of one, that the builds and tests compile and run; every shell block
// runs as written, in order, in a fresh directory; and every output shown is
// what its command prints. See readme_test.go for the markers that tie a
// block to its source.
package readme
