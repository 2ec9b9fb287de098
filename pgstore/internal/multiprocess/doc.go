// Package multiprocess holds the test that runs livefold's projection
// runtime in several processes on one PostgreSQL database through pgstore:
// writers killed and restarted at random apply to overlapping keys, and a
// subscriber in a process of its own must converge on every key. It has no
// API; its tests re-execute their own binary to start the processes.
//
// The default run lasts a few seconds; LIVEFOLD_MULTIPROCESS_DURATION (a
// Go duration, such as 2m) makes it longer. Like pgstore's, the test needs
// LIVEFOLD_PG_URL, and fails without it when CI=true.
package multiprocess
