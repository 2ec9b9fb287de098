package boltstore

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// These tests are in the package because they call the fileWriter of a
// checkpoint directly: the public API shows neither its transactions nor
// the fill of the pages it writes.

// openWriter opens a new bbolt file with a fileWriter that commits every
// txRecords records.
func openWriter(t testing.TB, txRecords int) *fileWriter {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.db")
	db, err := bolt.Open(path, fileMode, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &fileWriter{fs: osFS{}, path: path, db: db, fault: func(string, error) {}, txRecords: txRecords}
}

// recordsOf returns the records putting value under each key of bucket "p".
func recordsOf(value string, keys ...string) records {
	b := make(map[string]overlayEntry, len(keys))
	for _, k := range keys {
		b[k] = overlayEntry{value: []byte(value), present: true}
	}
	return records{"p": b}
}

// keysOf returns n keys k000000, k000001, ..., in key order.
func keysOf(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%06d", i)
	}
	return keys
}

// fileState returns the file's fold point and how many keys of bucket "p"
// hold value.
func fileState(t *testing.T, w *fileWriter, value string) (fp foldPoint, found bool, holding int) {
	t.Helper()
	err := w.db.View(func(tx *bolt.Tx) error {
		var err error
		if fp, found, err = readFoldPoint(tx); err != nil {
			return err
		}
		if b := tx.Bucket([]byte("p")); b != nil {
			return b.ForEach(func(_, v []byte) error {
				if string(v) == value {
					holding++
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fp, found, holding
}

// Ensure that a checkpoint folds its records in transactions of at most
// txRecords records and writes the fold point in the last one only: a
// failure in between leaves the records of the transactions before it in
// the file under the old fold point, and folding the same records again
// (what the next checkpoint or Open's replay does) completes the file.
func TestFileWriter_Write_BoundedTransactionsFoldPointInTheLast(t *testing.T) {
	w := openWriter(t, 10)
	old := newFoldPoint()
	if err := w.write(nil, &old); err != nil {
		t.Fatal(err)
	}
	recs := recordsOf("v1", keysOf(95)...)
	next := foldPoint{fileID: old.fileID, gen: 1, end: 123, last: 7}
	if err := w.write(recs, &next); err != nil {
		t.Fatal(err)
	}
	fp, _, n := fileState(t, w, "v1")
	if fp != next || n != 95 {
		t.Fatalf("after the fold: fold point %+v, %d keys written; want %+v, 95", fp, n, next)
	}

	// The same keys with "v2", and among them, after the 50th, a key bbolt
	// refuses (longer than its 32 KiB limit), so the fold fails in its
	// sixth transaction.
	recs = recordsOf("v2", keysOf(95)...)
	bad := keysOf(50)[49] + strings.Repeat("z", bolt.MaxKeySize)
	recs["p"][bad] = overlayEntry{value: []byte("v2"), present: true}
	later := foldPoint{fileID: old.fileID, gen: 2, end: 456, last: 8}
	if err := w.write(recs, &later); err == nil {
		t.Fatal("the fold of a key longer than bbolt allows succeeded")
	}
	fp, _, n = fileState(t, w, "v2")
	if fp != next || n != 50 {
		t.Fatalf("after a fold that failed in its sixth transaction: fold point %+v, %d keys of the fold; "+
			"want the old fold point %+v and the 50 keys of the five transactions before", fp, n, next)
	}

	delete(recs["p"], bad)
	if err := w.write(recs, &later); err != nil {
		t.Fatal(err)
	}
	fp, _, n = fileState(t, w, "v2")
	if fp != later || n != 95 {
		t.Fatalf("after folding again: fold point %+v, %d keys of the fold; want %+v, 95", fp, n, later)
	}
}

// leafFill returns the fraction of the leaf pages of bucket "p" in use.
func leafFill(t *testing.T, w *fileWriter) float64 {
	t.Helper()
	var st bolt.BucketStats
	if err := w.db.View(func(tx *bolt.Tx) error {
		st = tx.Bucket([]byte("p")).Stats()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return float64(st.LeafInuse) / float64(st.LeafAlloc)
}

// Ensure that checkpoints fill densely the pages of keys inserted in runs
// (appended after a bucket's last key, or landing together where the file
// has no keys between them) and leave room in pages that keys land in one
// by one: 20,000 keys of 100-byte values folded 500 at a time, in key order,
// in numeric order of keys whose key order is another ("k9" after "k10"),
// and in scattered order.
func TestFileWriter_Write_FillsPagesOfRunsDenselyAndScatteredOnesHalf(t *testing.T) {
	value := strings.Repeat("x", 100)
	inOrder := keysOf(20000)
	numeric := make([]string, 20000)
	for i := range numeric {
		numeric[i] = fmt.Sprint("k", i)
	}
	scattered := append([]string(nil), inOrder...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(scattered), func(i, j int) {
		scattered[i], scattered[j] = scattered[j], scattered[i]
	})
	// Checkpoints of 500 keys judge every key; of 4000, a sample of them.
	for _, per := range []int{500, 4000} {
		fill := func(keys []string) float64 {
			w := openWriter(t, 0)
			for i := 0; i < len(keys); i += per {
				if err := w.write(recordsOf(value, keys[i:i+per]...), nil); err != nil {
					t.Fatal(err)
				}
			}
			return leafFill(t, w)
		}
		if f := fill(inOrder); f < 0.9 {
			t.Errorf("%d keys a checkpoint, appended in order: leaves %.0f%% full; want at least 90%%", per, 100*f)
		}
		if f := fill(numeric); f < 0.85 {
			t.Errorf("%d keys a checkpoint, in numeric order: leaves %.0f%% full; want at least 85%%", per, 100*f)
		}
		// Filled to the brim, such pages split into a full page and a
		// nearly empty one at the next key that lands in them: about 30%
		// full. Five checkpoints of 4000 keys leave too few such pages to
		// tell, so only checkpoints of 500 are checked.
		if per != 500 {
			continue
		}
		if f := fill(scattered); f < 0.55 {
			t.Errorf("%d keys a checkpoint, in scattered order: leaves %.0f%% full; want at least 55%%", per, 100*f)
		}
	}
}

// BenchmarkFileWriter_Write measures a checkpoint of scattered keys, its CPU
// rather than the disk's (the file does not sync): 30,000 records of
// 100-byte values, updates of keys spread over a file of 300,000, folded in
// the default transactions.
func BenchmarkFileWriter_Write(b *testing.B) {
	w := openWriter(b, 0)
	value := strings.Repeat("x", 100)
	all := keysOf(300000)
	for i := 0; i < len(all); i += 30000 {
		if err := w.write(recordsOf(value, all[i:i+30000]...), nil); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sets := make([]records, 4)
	for i := range sets {
		keys := make([]string, 30000)
		for j := range keys {
			keys[j] = all[rng.IntN(len(all))]
		}
		sets[i] = recordsOf(value, keys...)
	}
	i := 0
	for b.Loop() {
		if err := w.write(sets[i%len(sets)], nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
