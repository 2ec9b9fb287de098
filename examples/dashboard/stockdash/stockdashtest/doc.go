// Package stockdashtest drives the stockdash page in a headless Chromium,
// for tests of the dashboard with any store: it starts a browser whose
// processes are checked to end with the test, waits for what the page
// shows, and reads a dashboard's event stream as a page's EventSource would.
//
// The functions that take a testing.TB fail or skip that test, and must be
// called from its goroutine; Stream's methods return errors instead, so
// that a goroutine of the test's may read a stream. [RequireChromium]
// skips a test when Chromium is not at [ChromiumPath], except when
// CI=true, where it fails the test.
package stockdashtest
