//go:build !race

package boltstore

// raceEnabled says the tests run under the race detector; see race_test.go.
const raceEnabled = false
