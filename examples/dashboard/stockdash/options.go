package stockdash

import "time"

// Option configures New.
type Option func(*config)

type config struct {
	heartbeat time.Duration
	retry     time.Duration
}

// WithHeartbeat sets how often an idle event stream sends a comment
// (default 15s), which keeps proxies from closing it.
func WithHeartbeat(d time.Duration) Option {
	return func(c *config) { c.heartbeat = d }
}

// WithRetry sets how long a browser waits before it reconnects a dropped
// event stream (default projection.DefaultSSERetry).
func WithRetry(d time.Duration) Option {
	return func(c *config) { c.retry = d }
}
