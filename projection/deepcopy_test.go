package projection

import (
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

type dcLeaf struct {
	N    int
	Tags map[string][]int
}

type dcNode struct {
	Name     string
	Kids     []*dcNode
	Leaf     *dcLeaf
	Blob     []byte
	Empty    []byte
	Arr      [2][]string
	ByID     map[int]dcLeaf
	Skipped  []int `msgpack:"-"`
	Renamed  []int `msgpack:"r,omitempty"`
	Embedded dcLeaf
}

// roundTrip is what the runtime did before deep copies: encode and decode.
func roundTrip[S any](t *testing.T, s S) S {
	t.Helper()
	b, err := msgpack.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	var out S
	if err := msgpack.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Ensure that the deep copy gives exactly what a msgpack round trip gives,
// nil and empty apart and skipped fields zero, and shares no memory with
// its source.
func TestDeepCopier_EqualsRoundTrip(t *testing.T) {
	src := dcNode{
		Name: "root",
		Kids: []*dcNode{{Name: "a", Blob: []byte{1}}, nil, {Name: "b", Kids: []*dcNode{}}},
		Leaf: &dcLeaf{N: 1, Tags: map[string][]int{"x": {1, 2}, "y": nil, "z": {}}},
		Blob: []byte("blob"), Empty: []byte{},
		Arr:      [2][]string{{"p"}, nil},
		ByID:     map[int]dcLeaf{7: {N: 7, Tags: map[string][]int{}}},
		Skipped:  []int{9},
		Renamed:  []int{3},
		Embedded: dcLeaf{N: 2},
	}
	c, ok := deepCopier(reflect.TypeFor[dcNode]())
	if !ok {
		t.Fatal("deepCopier refused dcNode")
	}
	var got dcNode
	c(reflect.ValueOf(&got).Elem(), reflect.ValueOf(&src).Elem())
	if want := roundTrip(t, src); !reflect.DeepEqual(got, want) {
		t.Fatalf("deep copy = %+v\nround trip = %+v", got, want)
	}
	got.Kids[0].Blob[0] = 99
	got.Leaf.Tags["x"][0] = 99
	got.ByID[7].Tags["new"] = nil
	got.Arr[0][0] = "changed"
	if src.Kids[0].Blob[0] != 1 || src.Leaf.Tags["x"][0] != 1 || len(src.ByID[7].Tags) != 0 || src.Arr[0][0] != "p" {
		t.Fatal("the copy shares memory with its source")
	}
}

type dcCustom struct{ N []int }

func (c *dcCustom) EncodeMsgpack(e *msgpack.Encoder) error { return e.Encode(len(c.N)) }
func (c *dcCustom) DecodeMsgpack(d *msgpack.Decoder) error { return nil }

// Ensure that types whose round trip a copy cannot reproduce are left to
// msgpack.
func TestDeepCopier_RefusesWhatItCannotReproduce(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[struct{ hidden []int }](),
		reflect.TypeFor[struct{ Any any }](),
		reflect.TypeFor[struct{ F func() }](),
		reflect.TypeFor[struct{ C chan int }](),
		reflect.TypeFor[dcCustom](),
		reflect.TypeFor[map[*int]int](),
		reflect.TypeFor[[]struct{ X dcCustom }](),
	} {
		if _, ok := deepCopier(typ); ok {
			t.Errorf("deepCopier(%v) accepted a type it cannot copy as msgpack would", typ)
		}
	}
}
