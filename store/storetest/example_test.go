package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/livefold/livefold/boltstore"
	"github.com/livefold/livefold/store"
	"github.com/livefold/livefold/store/storetest"
)

// A test of code built on a store fails a commit on purpose and checks what
// the code does about it.
func ExampleFaulty() {
	dir, err := os.MkdirTemp("", "storetest")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bs, err := boltstore.Open(filepath.Join(dir, "example.db"), boltstore.WithNoSync())
	if err != nil {
		log.Fatal(err)
	}
	f := storetest.NewFaulty(bs)
	defer f.Close()

	ctx := context.Background()
	commit := func(writes ...store.Write) error {
		outcome := make(chan error, 1)
		if err := f.Submit(ctx, writes, func(err error) { outcome <- err }); err != nil {
			return err
		}
		return <-outcome
	}
	w := store.Write{Bucket: "counters", Key: "a", Record: store.Record{Version: 1, State: []byte("1")}}

	f.FailNext(1)
	err = commit(w)
	fmt.Println("first commit failed:", errors.Is(err, store.ErrCommit), errors.Is(err, storetest.ErrInjected))
	_, found, _ := f.Get(ctx, "counters", "a")
	fmt.Println("stored after the failure:", found)
	fmt.Println("second commit:", commit(w))
	// Output:
	// first commit failed: true true
	// stored after the failure: false
	// second commit: <nil>
}
