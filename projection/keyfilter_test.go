package projection

import (
	"strconv"
	"testing"
)

// keyFilter is internal: RebuildAll's results do not show whether it read
// the store for a key, only whether it ever skipped a read it needed,
// which the RebuildAll tests with keys leaving memory and coming back do.

// Ensure that a key met before is always reported as maybe met, also once
// the filter holds far more keys than bits, so that RebuildAll never skips
// the read of a key it wrote.
func TestKeyFilter_Met_NoFalseNegatives(t *testing.T) {
	f := newKeyFilter(0)
	if got := len(f.bits) * 64; got != minKeyFilterBits {
		t.Fatalf("newKeyFilter(0) has %d bits; want %d", got, minKeyFilterBits)
	}
	const keys = 4 * minKeyFilterBits
	for i := range keys {
		f.met("k" + strconv.Itoa(i))
	}
	for i := range keys {
		if k := "k" + strconv.Itoa(i); !f.met(k) {
			t.Fatalf("met(%q) = false after it was met", k)
		}
	}
}

// Ensure that a filter with room for its keys tells nearly every key met
// for the first time apart, which is what saves RebuildAll its reads.
func TestKeyFilter_Met_FirstSightIsNew(t *testing.T) {
	f := newKeyFilter(minKeyFilterBits)
	const keys = 1000 // 3 of 65536 bits set per key: about 1 in 10,000 is wrongly "maybe"
	wrong := 0
	for i := range keys {
		if f.met("k" + strconv.Itoa(i)) {
			wrong++
		}
	}
	if wrong > 10 {
		t.Fatalf("%d of %d keys met for the first time were reported as maybe met; want at most 10", wrong, keys)
	}
}

// Ensure that the filter's size is a power of two within its bounds, so
// that a probe's bit is its hash masked.
func TestKeyFilter_New_Size(t *testing.T) {
	for _, tc := range []struct{ n, bits int }{
		{n: -1, bits: minKeyFilterBits},
		{n: minKeyFilterBits + 1, bits: 2 * minKeyFilterBits},
		{n: 64 * 65536, bits: 1 << 22},
		{n: 1 << 40, bits: maxKeyFilterBits},
	} {
		f := newKeyFilter(tc.n)
		if got := len(f.bits) * 64; got != tc.bits || f.mask != uint64(tc.bits-1) {
			t.Errorf("newKeyFilter(%d) has %d bits, mask %#x; want %d bits", tc.n, got, f.mask, tc.bits)
		}
	}
}
