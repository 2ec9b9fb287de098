// Command dashboard serves the dashboard of livefold's examples (package
// stockdash, the page that examples/dashboard serves from a bbolt file)
// with its stock in PostgreSQL, through pgstore. Any number of instances
// may share one database: each follows the others' commits, so a movement
// clicked on a page served by one instance shows, without a reload, on the
// pages served by every other.
//
// Two instances on a throw-away database, from pgstore/ (.ci/postgres.sh
// installs Debian's postgresql package first if no server is found, as
// root):
//
//	../.ci/postgres.sh sh -c 'go run ./examples/dashboard -addr 127.0.0.1:8080 & go run ./examples/dashboard -addr 127.0.0.1:8081; wait'
//
// Then open http://127.0.0.1:8080/ in one browser and
// http://127.0.0.1:8081/ in another: a click in either shows in both.
// Interrupt (Ctrl-C) shuts both down cleanly, and the cluster is removed.
//
// -db is the database's connection string (default: $LIVEFOLD_PG_URL, which
// .ci/postgres.sh sets), -table the table that holds the stock (default
// livefold_snapshots; instances share what they keep in one table). The
// runtime's counters are at /debug/vars.
package main

import (
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/livefold/livefold/examples/dashboard/stockdash"
	"github.com/livefold/livefold/pgstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		log.Fatal(err)
	}
}

// run parses args, opens the store and serves the dashboard until ctx
// ends; then it shuts the server down and closes the store. It writes what
// it does, and the faults the store and the runtime handle, to logw.
func run(ctx context.Context, args []string, logw io.Writer) (err error) {
	fs := flag.NewFlagSet("dashboard", flag.ExitOnError)
	fs.SetOutput(logw)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	db := fs.String("db", "", "PostgreSQL connection string (default: $LIVEFOLD_PG_URL)")
	table := fs.String("table", pgstore.DefaultTable, "table to keep the stock in")
	fs.Parse(args) // exits on an error
	if *db == "" {
		*db = os.Getenv("LIVEFOLD_PG_URL")
	}
	if *db == "" {
		return errors.New("dashboard: no database: pass -db or set LIVEFOLD_PG_URL")
	}

	logger := slog.New(slog.NewTextHandler(logw, nil))
	store, err := pgstore.Open(ctx, *db, pgstore.WithTable(*table), pgstore.WithLogger(logger))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	s, err := stockdash.New(store, stockdash.WithLogger(logger))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		s.Close()
		return err
	}
	expvar.Publish("livefold.stock", s.Runtime().Var())
	fmt.Fprintf(logw, "dashboard: serving http://%s/ with table %s\n", ln.Addr(), store.Table())
	return stockdash.Serve(ctx, ln, s, logw)
}
