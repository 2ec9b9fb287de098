package stockdash

import (
	"log/slog"
	"time"
)

// Option configures New.
type Option func(*config)

type config struct {
	heartbeat time.Duration
	retry     time.Duration
	logger    *slog.Logger
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

// WithLogger sets where the runtime logs the faults it handles on its own,
// such as a lost feed of other processes' commits (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}
