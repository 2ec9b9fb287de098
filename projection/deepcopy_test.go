package projection

import (
	"fmt"
	"reflect"
	"testing"
	"time"
	"unsafe"

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
	got := src
	c.fix(unsafe.Pointer(&got))
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

type dcItem struct {
	V   int64
	Tmp int32 `msgpack:"-"`
}

type dcNamed struct {
	S   string
	Tmp []int `msgpack:"-"`
}

// dcWide has a field of every shape the copier handles differently.
type dcWide struct {
	Ints      []int64
	NilInts   []int64
	NoInts    []int64
	Strs      []string
	NoStrs    []string
	Items     []dcItem
	Named     []dcNamed
	Units     []struct{}
	Ptrs      []*int
	Fixed     [3]int
	Pairs     [2]dcItem
	ByName    map[string]*dcLeaf
	NilMap    map[string]int
	NoMap     map[string]int
	Bytes     map[int][]byte
	ItemByID  map[int]dcItem
	Inner     struct{ A, B []int }
	Secret    int    `msgpack:"-"`
	SecretArr [4]int `msgpack:"-"`
}

func newWide() dcWide {
	one, two := 1, 2
	return dcWide{
		Ints: []int64{1, 2, 3}, NoInts: []int64{},
		Strs: []string{"a", "b"}, NoStrs: []string{},
		Items:    []dcItem{{1, 10}, {2, 20}},
		Named:    []dcNamed{{"x", []int{1}}, {"y", nil}},
		Units:    []struct{}{{}, {}},
		Ptrs:     []*int{&one, nil, &two},
		Fixed:    [3]int{7, 8, 9},
		Pairs:    [2]dcItem{{3, 30}, {4, 40}},
		ByName:   map[string]*dcLeaf{"l": {N: 1, Tags: map[string][]int{"t": {1}}}, "nil": nil},
		NoMap:    map[string]int{},
		Bytes:    map[int][]byte{1: {1, 2}, 2: nil, 3: {}},
		ItemByID: map[int]dcItem{5: {5, 50}},
		Inner:    struct{ A, B []int }{A: []int{1}, B: []int{}},
		Secret:   42, SecretArr: [4]int{1, 2, 3, 4},
	}
}

// Ensure that the copy made for the runtime equals a msgpack round trip for
// every shape of field, on both ways the codec copies a state: on the stack,
// and on the heap for states whose skipped fields hold pointers.
func TestCodec_Clone_EqualsRoundTrip(t *testing.T) {
	t.Run("stack", func(t *testing.T) {
		c := newCodec[dcWide]()
		if c.deep == nil || len(c.deep.zeroes) != 0 {
			t.Fatalf("dcWide: deep %v; want a copier without zeroes", c.deep)
		}
		checkClone(t, c, newWide())
	})
	t.Run("heap", func(t *testing.T) {
		type withPointerSkipped struct {
			W        dcWide
			NamedArr [2]dcNamed
			Cache    map[string]int `msgpack:"-"`
			Names    []string       `msgpack:"-"`
		}
		c := newCodec[withPointerSkipped]()
		if c.deep == nil || len(c.deep.zeroes) == 0 {
			t.Fatalf("deep %v; want a copier with zeroes", c.deep)
		}
		checkClone(t, c, withPointerSkipped{
			W:        newWide(),
			NamedArr: [2]dcNamed{{"p", []int{5}}, {"q", []int{6}}},
			Cache:    map[string]int{"a": 1}, Names: []string{"n"},
		})
	})
	t.Run("recursive", func(t *testing.T) {
		src := dcNode{Name: "r", Kids: []*dcNode{{Name: "k", Kids: []*dcNode{{Name: "g", Blob: []byte{1}}}}}}
		checkClone(t, newCodec[dcNode](), src)
	})
}

func checkClone[S any](t *testing.T, c *codec[S], src S) {
	t.Helper()
	want := roundTrip(t, src)
	got, err := c.clone(&src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("clone = %+v\nround trip = %+v", got, want)
	}
	if at := sharedMemory(reflect.ValueOf(&got).Elem(), reflect.ValueOf(&src).Elem()); at != "" {
		t.Fatalf("the copy shares memory with its source at %s", at)
	}
}

// Ensure that a copy of time.Time keeps the instant and location as they
// are, as a plain copy does.
func TestCodec_Clone_Times(t *testing.T) {
	type times struct {
		At   time.Time
		List []time.Time
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	src := times{At: at, List: []time.Time{at, {}}}
	c := newCodec[times]()
	got, err := c.clone(&src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, src) {
		t.Fatalf("clone = %+v; want %+v", got, src)
	}
	got.List[0] = time.Time{}
	if !src.List[0].Equal(at) {
		t.Fatal("the copy shares its list with the source")
	}
}

// Ensure that a copy of a state holding one slice of plain values costs one
// allocation, what a hand-written copy costs.
func TestCodec_Clone_OneAllocationPerSlice(t *testing.T) {
	type state struct {
		Total int64
		Last  []int64
		Names []string
	}
	c := newCodec[state]()
	src := state{Total: 1, Last: []int64{1, 2, 3}, Names: []string{"a"}}
	allocs := testing.AllocsPerRun(100, func() {
		got, _ := c.clone(&src, nil)
		if len(got.Last) != 3 {
			t.Fatal("bad copy")
		}
	})
	if allocs != 2 {
		t.Errorf("clone allocated %v times; want 2, one per slice", allocs)
	}
}

// sharedMemory returns the path of memory that a and b, values of one type,
// both reach through a slice, map or pointer, or "" if there is none.
func sharedMemory(a, b reflect.Value) string {
	seen := map[uintptr]string{}
	collect(a, "", func(p uintptr, path string) { seen[p] = path })
	shared := ""
	collect(b, "", func(p uintptr, path string) {
		if _, ok := seen[p]; ok && shared == "" {
			shared = path
		}
	})
	return shared
}

// collect calls fn with the address of every non-empty block of memory v
// reaches through a reference.
func collect(v reflect.Value, path string, fn func(uintptr, string)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			if v.Type().Elem().Size() > 0 {
				fn(v.Pointer(), path)
			}
			collect(v.Elem(), path+".*", fn)
		}
	case reflect.Slice:
		if v.Cap() > 0 && v.Type().Elem().Size() > 0 {
			fn(v.Pointer(), path)
		}
		for i := range v.Len() {
			collect(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Array:
		for i := range v.Len() {
			collect(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Map:
		if !v.IsNil() {
			fn(v.Pointer(), path)
			for it := v.MapRange(); it.Next(); {
				collect(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()), fn)
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				collect(v.Field(i), path+"."+v.Type().Field(i).Name, fn)
			}
		}
	}
}
