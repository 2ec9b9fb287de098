package projection

import (
	"hash/maphash"
	"math/bits"
)

// keyFilter is a Bloom filter of the keys a RebuildAll met. A key it never
// met has no record in the new generation, so reading the store for it
// would find nothing: a rebuild meets every key once while it is absent,
// and in a history grouped by key that is the only read the key would cost.
// Its size is fixed when it is made, so memory does not grow with the keys;
// the more keys beyond its size, the more often it answers "maybe", and a
// wrong "maybe" costs only the read it could have saved. A keyFilter
// belongs to one goroutine.
type keyFilter struct {
	seed maphash.Seed
	bits []uint64
	mask uint64 // number of bits - 1: a power of two less one
}

// keyFilterProbes is the bits set per key: fewer than the optimum for a
// filter sized to its keys, because it is often too small for them. With 3,
// a filter of 4 bits per key skips 95% of the reads of keys met for the
// first time, one of 2 bits 82%, one of 1 bit 56%.
const keyFilterProbes = 3

// Bounds of a keyFilter's size, in bits: 8 KiB to 8 MiB.
const (
	minKeyFilterBits = 1 << 16
	maxKeyFilterBits = 1 << 26
)

// newKeyFilter returns a filter of about n bits, a power of two within the
// bounds above.
func newKeyFilter(n int) *keyFilter {
	n = min(max(n, minKeyFilterBits), maxKeyFilterBits)
	size := uint64(1) << bits.Len64(uint64(n-1))
	return &keyFilter{seed: maphash.MakeSeed(), bits: make([]uint64, size/64), mask: size - 1}
}

// met records key and reports whether it may have been recorded before;
// false means it certainly was not.
func (f *keyFilter) met(key string) bool {
	h := maphash.String(f.seed, key)
	// Double hashing: the probes are h1, h1+h2, h1+2*h2, with h2 odd so
	// that they differ.
	h1, h2 := h, (h>>32)|1
	seen := true
	for i := range uint64(keyFilterProbes) {
		b := (h1 + i*h2) & f.mask
		word, bit := &f.bits[b/64], uint64(1)<<(b%64)
		if *word&bit == 0 {
			seen = false
			*word |= bit
		}
	}
	return seen
}
