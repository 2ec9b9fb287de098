package stockdash

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

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
	"github.com/livefold/livefold/store"
)

// indexHTML is the whole front end: plain HTML and JavaScript, no build
// step and no external assets. A string, so nothing can modify it.
//
//go:embed index.html
var indexHTML string

// Limits on what a POST may carry.
const (
	// MaxFormBytes is the largest body a POST of a movement may have.
	MaxFormBytes = 4 << 10
	// MaxSKULen is the longest SKU, in bytes, a movement may name.
	MaxSKULen = 64
	// MaxQty is the largest number of units one movement may move, either
	// way.
	MaxQty = 1_000_000
)

// Server is the dashboard's back end: it owns a bus and the stock runtime
// over the store given to New, and serves the routes listed in the package
// documentation. It is safe for concurrent use, as an http.Handler must be.
type Server struct {
	bus   *pubsub.Bus
	d     *projection.Dispatcher
	stock *projection.Runtime[StockMoved, Stock, Change]
	mux   *http.ServeMux
}

// New returns a Server that keeps the stock in st, which it does not own:
// the caller must Close the Server, then st. With a store whose other
// handles commit too (pgstore, in other processes), the runtime follows
// their commits, and the pages open on this Server show them.
func New(st store.Store, opts ...Option) (*Server, error) {
	cfg := config{heartbeat: 15 * time.Second, retry: projection.DefaultSSERetry}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{bus: pubsub.New(), d: projection.NewDispatcher(), mux: http.NewServeMux()}
	var ropts []projection.Option
	if cfg.logger != nil {
		ropts = append(ropts, projection.WithLogger(cfg.logger))
	}
	var err error
	if s.stock, err = projection.New(st, s.bus, warehouseStock{}, ropts...); err != nil {
		s.bus.Close()
		return nil, err
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

// ServeHTTP serves the routes listed in the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Runtime returns the runtime that folds the stock, for callers that apply
// or read outside HTTP (a program's own producers, tests, metrics). It is
// closed with the Server.
func (s *Server) Runtime() *projection.Runtime[StockMoved, Stock, Change] { return s.stock }

// Dispatcher returns the dispatcher the movements POSTed go through, with
// every runtime of the Server registered.
func (s *Server) Dispatcher() *projection.Dispatcher { return s.d }

// Close ends every event stream and stops the runtime, once the applies in
// flight have committed; requests served after it fail. It does not close
// the store. Call it once the HTTP server is shut down; it is idempotent.
func (s *Server) Close() {
	s.stock.Close()
	s.bus.Close()
}

func (s *Server) servePage(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	fmt.Fprint(w, indexHTML)
}

// Snapshot is the body of GET /stock/{key}: a warehouse's state at a
// version.
type Snapshot struct {
	Key       string    `json:"key"`
	Version   uint64    `json:"version"`
	UpdatedAt time.Time `json:"updatedAt"`
	State     Stock     `json:"state"`
}

func (s *Server) serveSnapshot(w http.ResponseWriter, r *http.Request) {
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
	json.NewEncoder(w).Encode(Snapshot{Key: key, Version: snap.Version, UpdatedAt: snap.UpdatedAt, State: snap.State})
}

// serveMove dispatches one movement and answers 204 once every projection
// has made it durable. The page learns the new state from its event stream,
// like every other viewer, not from this response.
func (s *Server) serveMove(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
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
	if sku == "" || len(sku) > MaxSKULen {
		return StockMoved{}, fmt.Errorf("sku must be 1 to %d bytes", MaxSKULen)
	}
	for _, c := range sku {
		if !unicode.IsPrint(c) {
			return StockMoved{}, fmt.Errorf("sku %q has a character that is not printable", sku)
		}
	}
	n, err := strconv.Atoi(qty)
	if err != nil || n == 0 || n < -MaxQty || n > MaxQty {
		return StockMoved{}, fmt.Errorf("qty %q must be a non-zero integer between %d and %d", qty, -MaxQty, MaxQty)
	}
	return StockMoved{Warehouse: warehouse, SKU: sku, Qty: n}, nil
}
