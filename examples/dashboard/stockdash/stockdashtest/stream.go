package stockdashtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/livefold/livefold/projection"
)

// Event is one frame of a dashboard's event stream with the name the
// stream gives it, which is what the page listens to.
type Event struct {
	Name  string // the "event:" field: resync, deleted, stock.moved, ...
	Frame projection.SSEFrame
}

// Stream reads the frames of one event stream (GET /stock/{key}/events).
// Its methods must not be called concurrently.
type Stream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// OpenStream opens the event stream at url and fails t unless the server
// answers with one. The stream is closed when t ends, or by Close.
func OpenStream(t testing.TB, ctx context.Context, url string) *Stream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("stockdashtest: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("stockdashtest: GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("stockdashtest: GET %s = %s, Content-Type %q; want 200 OK, text/event-stream", url, resp.Status, ct)
	}
	return &Stream{body: resp.Body, sc: bufio.NewScanner(resp.Body)}
}

// Next returns the next frame, skipping heartbeats. It returns an error
// once the stream ends (io.ErrUnexpectedEOF if the server ended it
// cleanly) or holds a frame that is not JSON. Unlike the rest of the
// package, it may be called from any goroutine.
func (s *Stream) Next() (Event, error) {
	var name string
	for s.sc.Scan() {
		if n, ok := strings.CutPrefix(s.sc.Text(), "event: "); ok {
			name = n
		}
		if data, ok := strings.CutPrefix(s.sc.Text(), "data: "); ok {
			var f projection.SSEFrame
			if err := json.Unmarshal([]byte(data), &f); err != nil {
				return Event{}, fmt.Errorf("stockdashtest: frame %q: %w", data, err)
			}
			return Event{Name: name, Frame: f}, nil
		}
	}
	if err := s.sc.Err(); err != nil {
		return Event{}, fmt.Errorf("stockdashtest: stream ended: %w", err)
	}
	return Event{}, fmt.Errorf("stockdashtest: stream ended: %w", io.ErrUnexpectedEOF)
}

// Drain reads the stream to its end, discarding what is left, and returns
// the error that ended it: nil if the server ended it cleanly.
func (s *Stream) Drain() error {
	_, err := io.Copy(io.Discard, s.body)
	return err
}

// Close closes the stream; a Next in progress returns an error.
func (s *Stream) Close() error { return s.body.Close() }
