// Command dashboard serves one web page that shows a warehouse's stock live:
// the page follows the projection's Server-Sent Events stream and its buttons
// POST movements that the server dispatches to the runtime, so every open
// page updates without a reload. The page and its server are package
// stockdash; this command keeps the stock in a bbolt file (pgstore's
// examples/dashboard serves the same page from PostgreSQL).
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
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/examples/dashboard/stockdash"
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serve(ctx, ln, db, logw, true)
}

// serve opens the store at db and serves the dashboard on ln until ctx
// ends; then it shuts the server down and closes the store. It closes ln.
// With publish, it publishes the runtime's and the store's counters through
// expvar, whose names are global to the process: only main does, since the
// tests serve many times.
func serve(ctx context.Context, ln net.Listener, db string, logw io.Writer, publish bool) (err error) {
	store, err := boltstore.Open(db)
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	s, err := stockdash.New(store)
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	if publish {
		expvar.Publish("livefold.stock", s.Runtime().Var())
		expvar.Publish("livefold.store", store.Var())
	}
	fmt.Fprintf(logw, "dashboard: serving http://%s/ with store %s\n", ln.Addr(), store.Path())
	return stockdash.Serve(ctx, ln, s, logw)
}
