// Command dashboard serves one web page that shows a warehouse's stock live:
// the page follows the projection's Server-Sent Events stream and its buttons
// POST movements that the server dispatches to the runtime, so every open
// page updates without a reload.
//
//	go run ./examples/dashboard -addr 127.0.0.1:8080 -db /tmp/stock.db
//
// Without -db the store is a temporary file removed on exit. Open
// http://127.0.0.1:8080/ (or /?warehouse=lyon) in one or more browsers; the
// runtime's and the store's counters are at /debug/vars. Interrupt (Ctrl-C)
// shuts the server down cleanly.
package main

import (
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	db := flag.String("db", "", "bbolt file to keep the stock in (default: a temporary file removed on exit)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := listenAndServe(ctx, *addr, *db, os.Stderr); err != nil {
		log.Fatal(err)
	}
}

// listenAndServe creates the store (in a temporary directory when db is
// empty) and serves on addr until ctx ends.
func listenAndServe(ctx context.Context, addr, db string, logw io.Writer) error {
	if db == "" {
		dir, err := os.MkdirTemp("", "livefold-dashboard-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		db = filepath.Join(dir, "dashboard.db")
	}
	s, err := newServer(db)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Join(err, s.Close())
	}
	// expvar's names are global to the process, so only main publishes:
	// the tests create many servers.
	expvar.Publish("livefold.stock", s.stock.Var())
	expvar.Publish("livefold.store", s.store.Var())
	return serve(ctx, ln, s, logw)
}

// serve serves the dashboard s on ln until ctx ends, then shuts down: it
// stops accepting, ends the event streams, waits for the other requests (at
// most 5s) and closes s. It closes ln.
func serve(ctx context.Context, ln net.Listener, s *server, logw io.Writer) (err error) {
	defer func() { err = errors.Join(err, s.Close()) }()

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
	fmt.Fprintf(logw, "dashboard: serving http://%s/ with store %s\n", ln.Addr(), s.store.Path())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(logw, "dashboard: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
