package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// indexHTML is the whole front end: plain HTML and JavaScript, no build
// step and no external assets. A string, so nothing can modify it.
//
//go:embed index.html
var indexHTML string

// Limits on what a POST may carry.
const (
	maxFormBytes = 4 << 10
	maxSKULen    = 64
	maxQty       = 1_000_000
)

// server is the dashboard's back end: it owns the store, the bus and the
// stock runtime, and serves
//
//	GET  /                      the page
//	GET  /stock/{key}           a warehouse's snapshot as JSON
//	GET  /stock/{key}/events    the warehouse's live updates (Server-Sent Events)
//	POST /stock/{key}/moves     a movement (form fields sku and qty)
//	GET  /debug/vars            the process's expvar variables
//
// Close ends every event stream and closes the store.
type server struct {
	store *boltstore.Store
	bus   *pubsub.Bus
	d     *projection.Dispatcher
	stock *projection.Runtime[StockMoved, Stock, Change]
	mux   *http.ServeMux
}

// option configures newServer.
type option func(*serverConfig)

type serverConfig struct {
	heartbeat time.Duration
	retry     time.Duration
	storeOpts []boltstore.Option
}

// withHeartbeat sets how often an idle event stream sends a comment.
func withHeartbeat(d time.Duration) option {
	return func(c *serverConfig) { c.heartbeat = d }
}

// withRetry sets how long a browser waits before it reconnects a dropped
// event stream.
func withRetry(d time.Duration) option {
	return func(c *serverConfig) { c.retry = d }
}

// withStoreOptions passes options to boltstore.Open.
func withStoreOptions(opts ...boltstore.Option) option {
	return func(c *serverConfig) { c.storeOpts = append(c.storeOpts, opts...) }
}

// newServer opens (or creates) the store at path and returns the server.
// The caller must Close it.
func newServer(path string, opts ...option) (*server, error) {
	cfg := serverConfig{heartbeat: 15 * time.Second, retry: projection.DefaultSSERetry}
	for _, o := range opts {
		o(&cfg)
	}
	store, err := boltstore.Open(path, cfg.storeOpts...)
	if err != nil {
		return nil, err
	}
	s := &server{store: store, bus: pubsub.New(), d: projection.NewDispatcher(), mux: http.NewServeMux()}
	if s.stock, err = projection.New(store, s.bus, warehouseStock{}); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	// Handlers dispatch events without knowing which projections fold them;
	// more runtimes registered here would see every movement too.
	s.stock.Register(s.d)

	s.mux.HandleFunc("GET /{$}", s.servePage)
	s.mux.HandleFunc("GET /stock/{key}", s.serveSnapshot)
	// Named events: the page listens to each kind of frame on its own.
	s.mux.Handle("GET /stock/{key}/events", s.stock.SSEHandler(projection.WithSSENamedEvents(),
		projection.WithSSEHeartbeat(cfg.heartbeat), projection.WithSSERetry(cfg.retry)))
	s.mux.HandleFunc("POST /stock/{key}/moves", s.serveMove)
	s.mux.Handle("GET /debug/vars", expvar.Handler())
	return s, nil
}

// ServeHTTP serves the routes listed on server.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close ends every event stream (their subscriptions end with the bus), then
// commits what was accepted and closes the store. Requests served after it
// fail; call it once the HTTP server is shut down.
func (s *server) Close() error {
	s.bus.Close()
	return s.store.Close()
}

func (s *server) servePage(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	fmt.Fprint(w, indexHTML)
}

// snapshotJSON is the body of GET /stock/{key}.
type snapshotJSON struct {
	Key       string    `json:"key"`
	Version   uint64    `json:"version"`
	UpdatedAt time.Time `json:"updatedAt"`
	State     Stock     `json:"state"`
}

func (s *server) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	snap, ok, err := s.stock.Read(r.Context(), key)
	switch {
	case errors.Is(err, projection.ErrInvalidKey):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	case !ok:
		http.Error(w, "no stock recorded for "+strconv.Quote(key), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(snapshotJSON{Key: key, Version: snap.Version, UpdatedAt: snap.UpdatedAt, State: snap.State})
}

// serveMove dispatches one movement and answers 204 once every projection
// has made it durable. The page learns the new state from its event stream,
// like every other viewer, not from this response.
func (s *server) serveMove(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot read form: "+err.Error(), http.StatusBadRequest)
		return
	}
	e, err := parseMove(r.PathValue("key"), r.PostForm.Get("sku"), r.PostForm.Get("qty"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := projection.Dispatch(r.Context(), s.d, e); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseMove checks a movement before it reaches the fold, which must not
// fail.
func parseMove(warehouse, sku, qty string) (StockMoved, error) {
	if err := projection.ValidKey(warehouse); err != nil {
		return StockMoved{}, fmt.Errorf("invalid warehouse %q: %w", warehouse, err)
	}
	if sku == "" || len(sku) > maxSKULen {
		return StockMoved{}, fmt.Errorf("sku must be 1 to %d bytes", maxSKULen)
	}
	for _, c := range sku {
		if !unicode.IsPrint(c) {
			return StockMoved{}, fmt.Errorf("sku %q has a character that is not printable", sku)
		}
	}
	n, err := strconv.Atoi(qty)
	if err != nil || n == 0 || n < -maxQty || n > maxQty {
		return StockMoved{}, fmt.Errorf("qty %q must be a non-zero integer between %d and %d", qty, -maxQty, maxQty)
	}
	return StockMoved{Warehouse: warehouse, SKU: sku, Qty: n}, nil
}
