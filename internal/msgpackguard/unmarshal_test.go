package msgpackguard_test

import (
	"errors"
	"reflect"
	"runtime"
	"testing"

	"github.com/livefold/livefold/internal/msgpackguard"
	"github.com/vmihailenco/msgpack/v5"
)

// spy records whether the decoder reached it and panics when told to.
type spy struct {
	reached bool
	panics  bool
}

func (s *spy) DecodeMsgpack(d *msgpack.Decoder) error {
	s.reached = true
	if s.panics {
		panic("spy: told to panic")
	}
	return d.Skip()
}

// Ensure that Unmarshal decodes well-formed msgpack as msgpack.Unmarshal
// does.
func TestUnmarshal_WellFormed_Decodes(t *testing.T) {
	type state struct {
		N    int
		Tags []string
		ByN  map[int]string
	}
	want := state{N: 7, Tags: []string{"a", "b"}, ByN: map[int]string{1: "x"}}
	b, err := msgpack.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got state
	if err := msgpackguard.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal = %v; want nil", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unmarshal decoded %+v; want %+v", got, want)
	}
}

// Ensure that malformed bytes are refused with ErrMalformed before the
// decoder sees them, and that refusing them allocates almost nothing, however
// much their headers claim.
func TestUnmarshal_Malformed_RefusedBeforeDecoding(t *testing.T) {
	for name, b := range lyingHeaders() {
		var s spy
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := msgpackguard.Unmarshal(b, &s)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, msgpackguard.ErrMalformed) {
			t.Errorf("%s: Unmarshal = %v; want ErrMalformed", name, err)
		}
		if s.reached {
			t.Errorf("%s: the decoder saw malformed bytes", name)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: Unmarshal allocated %d bytes; want at most 1 MiB", name, n)
		}
		var v any
		if err := msgpackguard.Unmarshal(b, &v); !errors.Is(err, msgpackguard.ErrMalformed) {
			t.Errorf("%s: Unmarshal into any = %v; want ErrMalformed", name, err)
		}
	}
}

// Ensure that well-formed msgpack the decoder refuses or panics on returns
// ErrDecode, not a crash and not ErrMalformed.
func TestUnmarshal_DecoderFailure_ErrDecode(t *testing.T) {
	str, err := msgpack.Marshal("not a number")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := msgpackguard.Unmarshal(str, &n); !errors.Is(err, msgpackguard.ErrDecode) || errors.Is(err, msgpackguard.ErrMalformed) {
		t.Errorf("Unmarshal of a string into an int = %v; want ErrDecode only", err)
	}
	s := spy{panics: true}
	if err := msgpackguard.Unmarshal([]byte{0x01}, &s); !errors.Is(err, msgpackguard.ErrDecode) {
		t.Errorf("Unmarshal into a panicking decoder = %v; want ErrDecode", err)
	}
	// An array used as a map key cannot be a Go map key: msgpack panics.
	var m map[any]any
	if err := msgpackguard.Unmarshal([]byte{0x81, 0x91, 0x01, 0x02}, &m); !errors.Is(err, msgpackguard.ErrDecode) {
		t.Errorf("Unmarshal of an array-keyed map = %v; want ErrDecode", err)
	}
}

// Ensure that Check allocates nothing for well-formed bytes, so that guarding
// a decode costs no garbage.
func TestCheck_WellFormed_AllocatesNothing(t *testing.T) {
	for _, b := range wellFormedSamples(t) {
		if n := testing.AllocsPerRun(10, func() { _ = msgpackguard.Check(b) }); n != 0 {
			t.Errorf("Check(% x...) made %v allocations; want 0", b[:min(len(b), 8)], n)
		}
	}
}
