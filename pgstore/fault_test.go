package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/store"
)

// Protocol messages the fault tests watch for.
var (
	// The body of the server's CommandComplete 'C' for COMMIT, and the end
	// of the client's Query 'Q' that sends it, after the commit's notice.
	commitQuery = []byte("COMMIT\x00")
)

// faultStore returns a Store that reaches the database through a new proxy,
// on a new table, with the record v1 at b/k committed through it.
func faultStore(t *testing.T, opts ...pgstore.Option) (*pgstore.Store, *proxy, store.Record) {
	t.Helper()
	p := newProxy(t)
	table := newTable(t, adminPool(t))
	s := openStore(t, p.url, append(opts, pgstore.WithTable(table))...)
	v1 := rec(1, 1, "one")
	commit(t, s, create("b", "k", v1))
	return s, p, v1
}

// Ensure that a batch whose server process is terminated while it runs
// fails with store.ErrCommit and stores nothing, and that the store serves
// later requests.
func TestStore_Submit_BackendTerminated(t *testing.T) {
	s, p, v1 := faultStore(t)
	admin := adminPool(t)
	var (
		held    atomic.Pointer[proxyConn]
		pids    = make(chan uint32, 1)
		release = make(chan struct{})
		once    sync.Once
	)
	t.Cleanup(func() { closeOnce(release) })
	marker := []byte("state to lose")
	p.setHook(func(m *message) action {
		switch {
		case m.fromClient && m.typ == 'B' && bytes.Contains(m.body, marker):
			once.Do(func() {
				held.Store(m.conn)
				pids <- m.conn.PID()
			})
		case !m.fromClient && held.Load() == m.conn:
			// The server's answers wait until it was terminated: the
			// client cannot send COMMIT before.
			<-release
		}
		return forward
	})
	ch := submit(t, s, replace("b", "k", v1, rec(2, 2, string(marker))))
	pid := <-pids
	var terminated bool
	// Waits until the process has exited.
	if err := admin.QueryRow(context.Background(), `SELECT pg_terminate_backend($1, 60000)`, int64(pid)).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v; want true", pid, terminated, err)
	}
	closeOnce(release)
	if err := outcome(t, ch); !errors.Is(err, store.ErrCommit) {
		t.Fatalf("outcome of a batch whose server process was terminated = %v; want store.ErrCommit", err)
	}
	p.setHook(nil)
	expectRecord(t, s, "b", "k", v1)
	v2 := rec(2, 3, "two")
	commit(t, s, replace("b", "k", v1, v2))
	expectRecord(t, s, "b", "k", v2)
}

// Ensure that a batch whose connection breaks after the server committed it,
// before the client learnt it, is reported committed: the store looks the
// outcome up instead of guessing.
func TestStore_Submit_ConnectionLostAfterCommit(t *testing.T) {
	s, p, v1 := faultStore(t)
	var once sync.Once
	p.setHook(func(m *message) action {
		var a action
		if !m.fromClient && m.typ == 'C' && bytes.Equal(m.body, commitQuery) {
			once.Do(func() { a = cut })
		}
		return a
	})
	v2 := rec(2, 2, "two")
	if err := outcome(t, submit(t, s, replace("b", "k", v1, v2))); err != nil {
		t.Fatalf("outcome of a batch committed on a connection lost before the answer = %v; want nil", err)
	}
	expectRecord(t, s, "b", "k", v2)
	v3 := rec(3, 3, "three")
	commit(t, s, replace("b", "k", v2, v3))
	expectRecord(t, s, "b", "k", v3)
}

// Ensure that a batch whose connection breaks after the client sent COMMIT,
// before the server got it, fails with store.ErrCommit and stores nothing.
func TestStore_Submit_ConnectionLostBeforeCommitArrived(t *testing.T) {
	s, p, v1 := faultStore(t)
	var once sync.Once
	p.setHook(func(m *message) action {
		var a action
		if m.fromClient && m.typ == 'Q' && bytes.HasSuffix(m.body, commitQuery) {
			once.Do(func() { a = cut })
		}
		return a
	})
	err := outcome(t, submit(t, s, replace("b", "k", v1, rec(2, 2, "two"))))
	if !errors.Is(err, store.ErrCommit) {
		t.Fatalf("outcome of a batch whose COMMIT never arrived = %v; want store.ErrCommit", err)
	}
	expectRecord(t, s, "b", "k", v1)
	v2 := rec(2, 3, "two again")
	commit(t, s, replace("b", "k", v1, v2))
	expectRecord(t, s, "b", "k", v2)
}

// Ensure that a batch whose COMMIT was sent when the connection broke, while
// the database stays unreachable for the whole commit timeout, fails with
// ErrOutcomeUnknown and not store.ErrCommit, and that the store serves
// later requests once the database is back.
func TestStore_Submit_OutcomeUnknown(t *testing.T) {
	s, p, v1 := faultStore(t, pgstore.WithCommitTimeout(2*time.Second))
	var once sync.Once
	p.setHook(func(m *message) action {
		var a action
		if !m.fromClient && m.typ == 'C' && bytes.Equal(m.body, commitQuery) {
			once.Do(func() {
				p.setRefuse(true)
				a = cut
			})
		}
		return a
	})
	v2 := rec(2, 2, "two")
	err := outcome(t, submit(t, s, replace("b", "k", v1, v2)))
	if !errors.Is(err, pgstore.ErrOutcomeUnknown) || errors.Is(err, store.ErrCommit) {
		t.Fatalf("outcome of a lost commit with the database unreachable = %v; want ErrOutcomeUnknown, not store.ErrCommit", err)
	}
	p.setRefuse(false)
	expectRecord(t, s, "b", "k", v2) // it had committed
	v3 := rec(3, 3, "three")
	commit(t, s, replace("b", "k", v2, v3))
	expectRecord(t, s, "b", "k", v3)
}

// Ensure that requests committed while the database is unreachable fail
// with store.ErrCommit, and that later requests commit once it is back.
func TestStore_Submit_DatabaseAway(t *testing.T) {
	s, p, v1 := faultStore(t)
	p.setRefuse(true)
	err := outcome(t, submit(t, s, replace("b", "k", v1, rec(2, 2, "lost"))))
	if !errors.Is(err, store.ErrCommit) {
		t.Fatalf("outcome with the database unreachable = %v; want store.ErrCommit", err)
	}
	p.setRefuse(false)
	v2 := rec(2, 3, "two")
	commit(t, s, replace("b", "k", v1, v2))
	expectRecord(t, s, "b", "k", v2)
}

// Ensure that a request whose data the database refuses fails alone with
// store.ErrCommit, and the other requests of its batch commit.
func TestStore_Submit_RefusedRequestFailsAlone(t *testing.T) {
	s, p, v1 := faultStore(t)
	admin := adminPool(t)
	// A constraint that fails with division_by_zero, a data error, for
	// position 666 only.
	exec(t, admin, "ALTER TABLE "+pgx.Identifier{s.Table()}.Sanitize()+
		" ADD CONSTRAINT refuse666 CHECK (CASE WHEN position = 666 THEN 1 / (position - 666) = 0 ELSE true END)")

	// The first request is held on its way to the database, so that the
	// next three queue behind it and commit as one batch.
	entered, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { closeOnce(release) })
	marker := []byte("held request")
	var once sync.Once
	p.setHook(func(m *message) action {
		if m.fromClient && m.typ == 'B' && bytes.Contains(m.body, marker) {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
		return forward
	})
	v2 := rec(2, 2, string(marker))
	held := submit(t, s, replace("b", "k", v1, v2))
	<-entered
	a, c := rec(1, 1, "a"), rec(1, 3, "c")
	bad := rec(1, 2, "b")
	bad.Position = 666
	ca := submit(t, s, create("b", "a", a))
	cb := submit(t, s, create("b", "bad", bad))
	cc := submit(t, s, create("b", "c", c))
	closeOnce(release)
	for _, o := range []struct {
		what string
		ch   <-chan error
		fail bool
	}{{"the held request", held, false}, {"a", ca, false}, {"the refused request", cb, true}, {"c", cc, false}} {
		err := outcome(t, o.ch)
		switch {
		case o.fail && !errors.Is(err, store.ErrCommit):
			t.Errorf("outcome of %s = %v; want store.ErrCommit", o.what, err)
		case !o.fail && err != nil:
			t.Errorf("outcome of %s = %v; want nil", o.what, err)
		}
	}
	expectRecord(t, s, "b", "k", v2)
	expectRecord(t, s, "b", "a", a)
	expectAbsent(t, s, "b", "bad")
	expectRecord(t, s, "b", "c", c)
}

// Ensure that a key another writer inserts while a request checks it
// absent is not overwritten: the request fails with a conflict naming the
// other writer's record, and writes nothing.
func TestStore_Submit_ConcurrentInsert(t *testing.T) {
	s, p, v1 := faultStore(t)
	admin := adminPool(t)
	table := pgx.Identifier{s.Table()}.Sanitize()
	src := rec(7, 77, "the other writer's")
	commit(t, s, create("b", "src", src))

	// The other writer: a transaction that locks k, which the request
	// replaces first, and inserts race, which it creates next, as a copy
	// of src (the digest does not cover the key).
	ctx := context.Background()
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin = %v", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // a no-op once committed
	if _, err := tx.Exec(ctx, "SELECT FROM "+table+" WHERE projection = 'b' AND key = 'k' FOR UPDATE"); err != nil {
		t.Fatalf("lock k: %v", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+table+` (projection, key, version, stamp, lineage, position, updated_at_ns, state, digest)
		SELECT projection, 'race', version, stamp, lineage, position, updated_at_ns, state, digest FROM `+table+` WHERE key = 'src'`); err != nil {
		t.Fatalf("insert race: %v", err)
	}
	sent := make(chan struct{})
	var once sync.Once
	p.setHook(func(m *message) action {
		if m.fromClient && m.typ == 'B' && bytes.Contains(m.body, []byte("race")) {
			once.Do(func() { close(sent) })
		}
		return forward
	})
	ch := submit(t, s, replace("b", "k", v1, rec(2, 2, "two")), create("b", "race", rec(1, 1, "mine")))
	// The request's statement waits for the lock on k, having checked race
	// absent, or, if it had not started yet, will find race committed:
	// either way it must conflict.
	<-sent
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	err = outcome(t, ch)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Key != "race" || ce.Actual != src.Version || ce.ActualStamp != src.Stamp {
		t.Fatalf("outcome = %v; want a conflict on race with version %d stamp %d", err, src.Version, src.Stamp)
	}
	expectRecord(t, s, "b", "race", src)
	expectRecord(t, s, "b", "k", v1)
}

// closeOnce closes ch unless it is closed.
func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
