package projection

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SSEFrame is the JSON body of one Server-Sent Event written by the handler
// of SSEHandler: what changed, on which channel, and the key's version.
type SSEFrame struct {
	Type    string          `json:"type"`    // always "event"
	Event   string          `json:"event"`   // the broadcast name for deltas; "rebuild", "resync" or "deleted"
	Key     string          `json:"key"`     // the key, as the projection's Key returned it
	Channel string          `json:"channel"` // the key's channel (see Runtime.Channel)
	Version uint64          `json:"version"` // the key's version after the update
	Data    json.RawMessage `json:"data"`    // the delta for deltas, the full state otherwise, null when deleted
}

// SSEOption configures SSEHandler.
type SSEOption func(*sseConfig)

type sseConfig struct {
	keyOf       func(*http.Request) string
	heartbeat   time.Duration
	buffer      int
	retry       time.Duration
	namedEvents bool
}

// DefaultSSERetry is the reconnection delay the handler of SSEHandler sends
// browsers unless WithSSERetry says otherwise. Browsers pick their own when
// a stream sends none (about 3s in Chromium, 5s in Firefox); sending one
// makes every browser behave alike.
const DefaultSSERetry = 3 * time.Second

// WithSSEKey sets how the handler finds the key to stream in a request; an
// empty key streams every key. Default: the path value "key" (a pattern such
// as "GET /stock/{key}/events"), else the query parameter "key".
func WithSSEKey(keyOf func(*http.Request) string) SSEOption {
	return func(c *sseConfig) { c.keyOf = keyOf }
}

// WithSSEHeartbeat sets how often an idle stream sends a comment line, so
// proxies keep it open and a vanished client is noticed. 0 disables it.
// Default 15s.
func WithSSEHeartbeat(d time.Duration) SSEOption {
	return func(c *sseConfig) { c.heartbeat = d }
}

// WithSSEBuffer sets the subscription buffer of each stream (see WithBuffer).
func WithSSEBuffer(n int) SSEOption {
	return func(c *sseConfig) { c.buffer = n }
}

// WithSSERetry sets the delay a browser waits before it reconnects a
// dropped stream, sent as the stream's first line ("retry:", in
// milliseconds). 0 sends none, leaving the delay to the browser. Default
// DefaultSSERetry.
func WithSSERetry(d time.Duration) SSEOption {
	return func(c *sseConfig) { c.retry = max(d, 0) }
}

// WithSSENamedEvents names each event after its frame's Event in the SSE
// "event:" field (the broadcast name for deltas, "rebuild", "resync" or
// "deleted"), so a browser listens to each kind with
// EventSource.addEventListener(name, ...). A browser calls onmessage only for
// unnamed events, so with this option onmessage receives nothing. Without
// it, the default, every event is unnamed and arrives at onmessage, its kind
// only in the JSON. A broadcast name holding a carriage return or line feed
// cannot name an event: the handler then answers 500.
func WithSSENamedEvents() SSEOption {
	return func(c *sseConfig) { c.namedEvents = true }
}

// SSEHandler returns an http.Handler that streams updates as Server-Sent
// Events. Each event's data is a JSON [SSEFrame] and its id the update's
// [Cursor], so a browser's EventSource that reconnects with Last-Event-ID
// resumes through WithSince; a first connection to one key starts with the
// current state (WithInitialState), and so does a reconnect whose
// Last-Event-ID is no cursor. A query parameter "since" (a cursor) resumes
// explicitly. A stream of every key starts with the state of every key and
// needs no resume: a reconnect starts it again. The stream ends when the client goes
// away, the request's context ends or the runtime's bus closes.
//
// The stream opens with a "retry:" line (see WithSSERetry). Events are
// unnamed, for onmessage, unless WithSSENamedEvents names them.
//
// Responses: 400 for an invalid key or "since", 503 when the runtime has no
// bus, 500 when the ResponseWriter cannot flush or (with
// WithSSENamedEvents) the broadcast name cannot name an event.
func (r *Runtime[E, S, D]) SSEHandler(opts ...SSEOption) http.Handler {
	cfg := sseConfig{keyOf: defaultSSEKey, heartbeat: 15 * time.Second, buffer: DefaultSubscribeBuffer, retry: DefaultSSERetry}
	for _, o := range opts {
		o(&cfg)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.serveSSE(w, req, cfg)
	})
}

// errSSEEventName is the handler's answer when WithSSENamedEvents is set and
// the broadcast name would end the "event:" line early.
var errSSEEventName = errors.New("projection: the broadcast name cannot name an SSE event: it holds a line break")

func defaultSSEKey(req *http.Request) string {
	if k := req.PathValue("key"); k != "" {
		return k
	}
	return req.URL.Query().Get("key")
}

func (r *Runtime[E, S, D]) serveSSE(w http.ResponseWriter, req *http.Request, cfg sseConfig) {
	if cfg.namedEvents && strings.ContainsAny(r.broadcastName, "\r\n") {
		http.Error(w, errSSEEventName.Error(), http.StatusInternalServerError)
		return
	}
	key := cfg.keyOf(req)
	opts := []SubscribeOption{WithBuffer(max(1, cfg.buffer))}
	if key == "" {
		// Versions count per key, so a stream of every key cannot resume:
		// it starts again from every key's state.
		opts = append(opts, WithInitialState())
	} else {
		since, ok, err := sseSince(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ok {
			opts = append(opts, WithSince(since))
		} else {
			opts = append(opts, WithInitialState())
		}
	}
	ctx := req.Context()
	var sub *Subscription[S, D]
	var err error
	if key == "" {
		sub, err = r.SubscribeAll(ctx, opts...)
		if errors.Is(err, ErrUnsupported) {
			sub, err = r.SubscribeAll(ctx, opts[:1]...) // live updates only
		}
	} else {
		sub, err = r.Subscribe(ctx, key, opts...)
	}
	switch {
	case errors.Is(err, ErrInvalidKey):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case errors.Is(err, ErrNoBus):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if cfg.retry > 0 {
		// At least 1ms: "retry: 0" would make a browser reconnect in a loop.
		ms := max(cfg.retry.Milliseconds(), 1)
		if _, err := fmt.Fprintf(w, "retry: %d\n\n", ms); err != nil {
			return
		}
	}
	if err := rc.Flush(); err != nil {
		return
	}

	var tick <-chan time.Time
	if cfg.heartbeat > 0 {
		t := time.NewTicker(cfg.heartbeat)
		defer t.Stop()
		tick = t.C
	}
	var buf []byte
	for {
		select {
		case u, ok := <-sub.C():
			if !ok {
				return
			}
			buf, err = r.appendSSE(buf[:0], u, cfg.namedEvents)
			if err != nil {
				r.cfg.logger.Warn("projection: cannot encode SSE frame", "projection", r.name, "key", u.Key, "err", err)
				return
			}
		case <-tick:
			buf = append(buf[:0], ": ping\n\n"...)
		case <-ctx.Done():
			return
		}
		if _, err := w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// sseSince returns the cursor to resume at, from Last-Event-ID or else the
// "since" query parameter. A Last-Event-ID that is no cursor (one a browser
// kept from an older server, or garbage) is ignored, so the stream starts
// from the current state: an error would make the browser stop
// reconnecting. A malformed "since" is the caller's mistake, and an error.
func sseSince(req *http.Request) (Cursor, bool, error) {
	if id := req.Header.Get("Last-Event-ID"); id != "" {
		c, err := ParseCursor(id)
		return c, err == nil, nil
	}
	s := req.URL.Query().Get("since")
	if s == "" {
		return Cursor{}, false, nil
	}
	c, err := ParseCursor(s)
	if err != nil {
		return Cursor{}, false, fmt.Errorf("projection: resume with since: %w", err)
	}
	return c, true, nil
}

// appendSSE appends u as one SSE event to dst, named after the frame's
// Event when named is set.
func (r *Runtime[E, S, D]) appendSSE(dst []byte, u Update[S, D], named bool) ([]byte, error) {
	f := SSEFrame{Type: "event", Key: u.Key, Channel: r.Channel(u.Key), Version: u.Version}
	var data any
	switch u.Kind {
	case KindDelta:
		f.Event, data = r.broadcastName, u.Delta
	case KindDeleted:
		f.Event = u.Kind.String()
	default:
		f.Event, data = u.Kind.String(), u.State
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return dst, err
	}
	f.Data = raw
	body, err := json.Marshal(f)
	if err != nil {
		return dst, err
	}
	if named {
		dst = append(dst, "event: "...)
		dst = append(dst, f.Event...)
		dst = append(dst, '\n')
	}
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, u.Lineage, 16)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, u.Version, 10)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, body...)
	return append(dst, "\n\n"...), nil
}
