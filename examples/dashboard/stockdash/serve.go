package stockdash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// shutdownTimeout bounds how long Serve waits for requests other than event
// streams once its context ends.
const shutdownTimeout = 5 * time.Second

// Serve serves s on ln until ctx ends, then shuts down: it stops accepting,
// ends the event streams, waits for the other requests (at most 5s), writes
// a line saying so to logw and closes s. It closes ln, and returns an error
// only if serving or shutting down failed. The caller closes the store
// after Serve returns.
func Serve(ctx context.Context, ln net.Listener, s *Server, logw io.Writer) error {
	defer s.Close()

	// Shutdown waits for active requests, and an event stream stays active
	// until its request's context ends: requests derive from base, which
	// Shutdown cancels first thing.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs := &http.Server{
		Handler:           s,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
	}
	hs.RegisterOnShutdown(cancelBase)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(logw, "dashboard: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
