// Package projectiontest helps users test code built on livefold: it opens
// throw-away stores and buses that close themselves when the test ends,
// collects a subscription's updates, and waits for a key to reach a version
// without sleeping.
//
// Every helper takes a testing.TB, fails the test on error, and registers its
// cleanup with t.Cleanup, so a test needs no defer. Waits fail the test after
// DefaultTimeout instead of hanging. Nothing here
// starts a goroutine that outlives the test.
package projectiontest
