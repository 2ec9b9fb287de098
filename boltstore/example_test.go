package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "boltstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := boltstore.Open(filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	// A write names the version it replaces (Expect, 0 for none): the
	// commit fails instead of overwriting what another writer wrote.
	ctx := context.Background()
	first := store.Write{Bucket: "counters", Key: "a", Record: store.Record{Version: 1, State: []byte("one")}}
	if err := st.Commit(ctx, []store.Write{first}); err != nil { // durable when it returns
		log.Fatal(err)
	}
	err = st.Commit(ctx, []store.Write{first}) // version 1 exists now: Expect 0 no longer holds
	fmt.Println("again:", errors.Is(err, store.ErrConflict))

	rec, found, err := st.Get(ctx, "counters", "a")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(found, rec.Version, string(rec.State))
	// Output:
	// again: true
	// true 1 one
}

func ExampleOpen_locked() {
	dir, err := os.MkdirTemp("", "boltstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")
	st, err := boltstore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	// One writer per file: a second Open waits for the lock, then gives up.
	_, err = boltstore.Open(path, boltstore.WithOpenTimeout(50*time.Millisecond))
	fmt.Println(errors.Is(err, boltstore.ErrLocked))
	// Output: true
}

func ExampleWithReadOnly() {
	dir, err := os.MkdirTemp("", "boltstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")
	ctx := context.Background()
	w, err := boltstore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	for _, key := range []string{"a", "b"} {
		write := store.Write{Bucket: "counters", Key: key, Record: store.Record{Version: 1, State: []byte("1")}}
		if err := w.Commit(ctx, []store.Write{write}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// A reader, as the inspector opens a file: it writes nothing.
	r, err := boltstore.Open(path, boltstore.WithReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	buckets, err := r.Buckets(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range buckets {
		fmt.Println(b.Name, b.Keys, "keys")
	}
	err = r.Commit(ctx, []store.Write{{Bucket: "counters", Key: "c", Record: store.Record{Version: 1}}})
	fmt.Println(errors.Is(err, boltstore.ErrReadOnly))
	// Output:
	// counters 2 keys
	// true
}
