package pgstore

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/livefold/livefold/store"
)

// The listener's timing. A connection silent for listenIdle is checked
// with a round trip, which must answer within listenCheck, so that a
// connection lost without a word (a network that drops packets) is found
// within about a minute. Reconnections wait from listenFirstWait, doubling
// up to listenMaxWait, each wait drawn at random from its upper half, so
// that processes that lost the database together do not come back in step.
const (
	listenIdle      = 30 * time.Second
	listenCheck     = 15 * time.Second
	listenFirstWait = 50 * time.Millisecond
	listenMaxWait   = 5 * time.Second
)

// listen is the listener goroutine: it listens on the table's channel and
// delivers what it hears to the followers until ctx ends, connecting again
// after every failure.
func (s *Store) listen(ctx context.Context) {
	defer s.feed.listeners.Done()
	wait := listenFirstWait
	for {
		conn, err := s.listenConn(ctx)
		if err == nil {
			s.listening(ctx)
			wait = listenFirstWait
			err = s.receive(ctx, conn)
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(closeCtx) // the connection is done with, whatever it says
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		s.cfg.logger.Warn("pgstore: not listening to other stores' commits; connecting again",
			"table", s.cfg.table, "err", err)
		s.lost(ctx)
		timer := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		wait = min(2*wait, listenMaxWait)
	}
}

// listenConn takes a connection out of the pool for good, so that the
// pool's settings and hooks apply to it, and listens on it.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	conn := pc.Hijack()
	if _, err := conn.Exec(ctx, s.listenSQL()); err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
		return nil, err
	}
	return conn, nil
}

// listenSQL is LISTEN on the table's channel. Listening again on a channel
// changes nothing, which makes it the listener's check of its connection,
// and keeps it the query that monitoring shows for the connection.
func (s *Store) listenSQL() string {
	return "LISTEN " + pgx.Identifier{s.channel}.Sanitize()
}

// receive delivers the notices conn receives until ctx ends or the
// connection fails.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn) error {
	var asm assembly
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil && n != nil:
			s.heard(ctx, &asm, n.Payload)
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil && !conn.IsClosed():
			cctx, cancel := context.WithTimeout(ctx, listenCheck)
			_, err := conn.Exec(cctx, s.listenSQL())
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// assembly collects the payloads of a notice sent in several parts, which
// arrive one after the other (see notice.go).
type assembly struct {
	store, seq uint64
	parts      []string
}

// heard handles one payload.
func (s *Store) heard(ctx context.Context, asm *assembly, payload string) {
	p, err := parsePart(payload)
	if err != nil {
		s.malformed(ctx, err)
		return
	}
	if p.store == s.id {
		// Its own commits, whose parts are contiguous like every
		// notice's: nothing to assemble.
		return
	}
	if p.parts == 1 {
		s.announce(ctx, p.body)
		return
	}
	switch {
	case p.part == 0:
		if len(asm.parts) > 0 {
			s.malformed(ctx, errors.New("pgstore: a notice ended before its last part"))
		}
		*asm = assembly{store: p.store, seq: p.seq}
	case p.store != asm.store || p.seq != asm.seq || p.part != len(asm.parts):
		*asm = assembly{}
		s.malformed(ctx, errors.New("pgstore: a notice's part out of sequence"))
		return
	}
	asm.parts = append(asm.parts, p.body)
	if len(asm.parts) == p.parts {
		body := strings.Join(asm.parts, "")
		*asm = assembly{}
		s.announce(ctx, body)
	}
}

// announce delivers the changes a notice's whole body lists.
func (s *Store) announce(ctx context.Context, body string) {
	var changes []store.Change
	bad := false
	everything, err := parseBody(body, func(e noticeEntry) {
		bucket, ok1 := unescape(e.bucket)
		key, ok2 := unescape(e.key)
		bad = bad || !ok1 || !ok2
		changes = append(changes, store.Change{Bucket: bucket, Key: key, Lineage: e.lineage, Version: e.version})
	})
	switch {
	case err != nil || bad:
		s.malformed(ctx, cmp.Or(err, errNotice))
	case everything:
		s.tell(ctx, store.Change{Reset: true})
	default:
		s.tell(ctx, changes...)
	}
}

// malformed handles a payload that is not a notice a Store sent: something
// may have changed that it should have told, so every follower gets a
// Reset.
func (s *Store) malformed(ctx context.Context, err error) {
	s.cfg.logger.Warn("pgstore: a notification on the table's channel is not a store's notice",
		"table", s.cfg.table, "channel", s.channel, "err", err)
	s.tell(ctx, store.Change{Reset: true})
}
