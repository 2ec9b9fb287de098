package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/store"
)

// Ensure that Open creates the table once when several stores open a new
// table at the same time, and that they share it.
func TestOpen_ConcurrentOnNewTable(t *testing.T) {
	url := pgURL(t)
	table := newTable(t, adminPool(t))
	const n = 4
	stores := make([]*pgstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = pgstore.Open(context.Background(), url, pgstore.WithTable(table))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d = %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	r := rec(1, 1, "shared")
	commit(t, stores[0], create("b", "k", r))
	expectRecord(t, stores[n-1], "b", "k", r)
}

// Ensure that Open refuses a table that lacks the store's columns with
// ErrSchema, and names the table.
func TestOpen_TableWithoutColumns(t *testing.T) {
	admin := adminPool(t)
	table := newTable(t, admin)
	exec(t, admin, "CREATE TABLE "+pgx.Identifier{table}.Sanitize()+" (projection text, key text)")
	s, err := pgstore.Open(context.Background(), pgURL(t), pgstore.WithTable(table))
	if !errors.Is(err, pgstore.ErrSchema) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a table without the store's columns = %v; want ErrSchema", err)
	}
}

// Ensure that Open fails when the database cannot be reached, and when the
// table name is empty.
func TestOpen_Fails(t *testing.T) {
	p := newProxy(t)
	p.setRefuse(true)
	if s, err := pgstore.Open(context.Background(), p.url); err == nil {
		s.Close()
		t.Error("Open of an unreachable database = nil; want an error")
	}
	if s, err := pgstore.Open(context.Background(), pgURL(t), pgstore.WithTable("")); err == nil {
		s.Close()
		t.Error(`Open(WithTable("")) = nil; want an error`)
	}
}

// Ensure that a Store from OpenPool leaves the caller's pool open when it
// closes, and refuses calls after Close with store.ErrClosed.
func TestOpenPool_Close_KeepsPool(t *testing.T) {
	pool := adminPool(t)
	s, err := pgstore.OpenPool(context.Background(), pool, pgstore.WithTable(newTable(t, pool)))
	if err != nil {
		t.Fatalf("OpenPool = %v", err)
	}
	r := rec(1, 1, "x")
	commit(t, s, create("b", "k", r))
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := pool.Ping(context.Background()); err != nil {
		t.Errorf("Ping of the caller's pool after Close = %v; want nil", err)
	}
	if _, _, err := s.Get(context.Background(), "b", "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close = %v; want store.ErrClosed", err)
	}
}
