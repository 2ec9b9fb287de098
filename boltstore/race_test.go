//go:build race

package boltstore

// raceEnabled says the tests run under the race detector, which makes the
// power-loss simulation several times slower; it then checks fewer images
// (.ci/run also runs it in full without the detector).
const raceEnabled = true
