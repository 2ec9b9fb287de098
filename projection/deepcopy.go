package projection

import (
	"reflect"
	"strings"
	"time"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// copier deep-copies values of one type so that the copy is what a msgpack
// round trip would give, without encoding: exported fields copied, deeply;
// fields msgpack skips (tagged "-") left zero.
//
// A copy is made in two steps: the value is copied whole, as Go assigns it,
// then every reference it holds (a slice, map or pointer, in a field or an
// array element) is replaced by a copy of what it refers to, and the skipped
// fields are cleared. The references are found by offset, worked out once per
// type, so copying a state costs about what a hand-written copy costs: one
// allocation per slice, map or pointer, and no reflection on the way to them.
// This is what makes a cached Read cheap (issue 15).
type copier struct {
	// refs are the references a value holds in its own memory, by offset.
	refs []ref
	// clears are the skipped fields that hold no pointers, cleared as bytes.
	clears []span
	// zeroes are the skipped fields that hold pointers, zeroed through
	// reflect so that the garbage collector sees the stores.
	zeroes []typedSpan
}

// ref is one reference at off in a value; exactly one of slice and ptr is
// set. Each takes the reference and returns a deep copy of it, so it never
// sees the memory of the value being fixed, which may be on a stack.
type ref struct {
	off   uintptr
	slice func(sliceHeader) sliceHeader       // for a slice
	ptr   func(unsafe.Pointer) unsafe.Pointer // for a pointer or a map, both one pointer in memory
}

type span struct{ off, size uintptr }

type typedSpan struct {
	off uintptr
	typ reflect.Type
}

// sliceHeader is the memory layout of every Go slice, as in package reflect's
// own unsafeheader.Slice; data is nil only for a nil slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// empty reports whether a value copied whole needs nothing more.
func (c *copier) empty() bool {
	return len(c.refs) == 0 && len(c.clears) == 0 && len(c.zeroes) == 0
}

// copyRefs makes *v, a value of c's type copied whole from another, a deep
// copy: each reference is replaced by a copy and the skipped fields without
// pointers are cleared. It leaves the skipped fields with pointers (zeroes)
// alone. It keeps no reference to v, which may point to a stack.
func (c *copier) copyRefs(v unsafe.Pointer) {
	for i := range c.refs {
		r := &c.refs[i]
		at := unsafe.Add(v, r.off)
		if r.slice != nil {
			*(*sliceHeader)(at) = r.slice(*(*sliceHeader)(at))
		} else {
			*(*unsafe.Pointer)(at) = r.ptr(*(*unsafe.Pointer)(at))
		}
	}
	for _, s := range c.clears {
		clear(unsafe.Slice((*byte)(unsafe.Add(v, s.off)), s.size))
	}
}

// fix is copyRefs followed by zeroing the skipped fields with pointers. v
// escapes through reflect, so it must point to the heap.
func (c *copier) fix(v unsafe.Pointer) {
	c.copyRefs(v)
	for _, z := range c.zeroes {
		reflect.NewAt(z.typ, unsafe.Add(v, z.off)).Elem().SetZero()
	}
}

// deepCopier returns the copier of t. It reports false for types whose
// msgpack round trip a copy cannot reproduce exactly, which are then copied
// through msgpack: types with their own msgpack encoding, unexported fields
// (msgpack drops them, a copy could not reach into them), interfaces,
// channels, functions and non-plain map keys.
func deepCopier(t reflect.Type) (*copier, bool) {
	b := copierBuilder{done: map[reflect.Type]*copier{}}
	return b.build(t)
}

// copierBuilder works out copiers, once per type, so that recursive types
// (a tree of nodes) refer to their own copier.
type copierBuilder struct {
	done map[reflect.Type]*copier
}

// custom reports whether t, or *t, encodes or decodes itself for msgpack.
func custom(t reflect.Type) bool {
	for _, it := range []reflect.Type{
		reflect.TypeFor[msgpack.CustomEncoder](), reflect.TypeFor[msgpack.CustomDecoder](),
		reflect.TypeFor[msgpack.Marshaler](), reflect.TypeFor[msgpack.Unmarshaler](),
	} {
		if t.Implements(it) || reflect.PointerTo(t).Implements(it) {
			return true
		}
	}
	return false
}

// build returns the copier of t. A copier still being worked out is returned
// as it is, for a reference to its own type: it is complete before any copy
// runs. A failure anywhere fails the whole build.
func (b *copierBuilder) build(t reflect.Type) (*copier, bool) {
	if c, ok := b.done[t]; ok {
		return c, true
	}
	c := &copier{}
	b.done[t] = c
	if !b.layout(c, t, 0) {
		return nil, false
	}
	return c, true
}

// layout adds to c what a value of type t at offset off needs beyond being
// copied whole.
func (b *copierBuilder) layout(c *copier, t reflect.Type, off uintptr) bool {
	if t == reflect.TypeFor[time.Time]() {
		return true // copied whole: its *Location is shared and never mutated
	}
	if custom(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		if t.Len() == 0 {
			return true
		}
		var elem copier
		if !b.layout(&elem, t.Elem(), 0) {
			return false
		}
		for i := range t.Len() {
			at := off + uintptr(i)*t.Elem().Size()
			for _, r := range elem.refs {
				r.off += at
				c.refs = append(c.refs, r)
			}
			for _, s := range elem.clears {
				c.clears = append(c.clears, span{s.off + at, s.size})
			}
			for _, z := range elem.zeroes {
				c.zeroes = append(c.zeroes, typedSpan{z.off + at, z.typ})
			}
		}
		return true
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				return false
			}
			if name, _, _ := strings.Cut(f.Tag.Get("msgpack"), ","); name == "-" {
				// msgpack skips it: the copy leaves it zero.
				if hasPointers(f.Type) {
					c.zeroes = append(c.zeroes, typedSpan{off + f.Offset, f.Type})
				} else if f.Type.Size() > 0 {
					c.clears = append(c.clears, span{off + f.Offset, f.Type.Size()})
				}
				continue
			}
			if !b.layout(c, f.Type, off+f.Offset) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		elem, ok := b.build(t.Elem())
		if !ok {
			return false
		}
		c.refs = append(c.refs, ref{off: off, ptr: pointerCopy(t.Elem(), elem)})
		return true
	case reflect.Slice:
		elem, ok := b.build(t.Elem())
		if !ok {
			return false
		}
		c.refs = append(c.refs, ref{off: off, slice: sliceCopy(t, elem)})
		return true
	case reflect.Map:
		if !isPlainValue(t.Key()) || t.Key().Kind() == reflect.Struct || custom(t.Key()) {
			return false
		}
		elem, ok := b.build(t.Elem())
		if !ok {
			return false
		}
		c.refs = append(c.refs, ref{off: off, ptr: mapCopy(t, elem)})
		return true
	default:
		return false
	}
}

// pointerCopy returns the copy of a non-nil pointer to et: a new et holding
// a deep copy of the old one.
func pointerCopy(et reflect.Type, elem *copier) func(unsafe.Pointer) unsafe.Pointer {
	return func(p unsafe.Pointer) unsafe.Pointer {
		if p == nil {
			return nil
		}
		n := reflect.New(et)
		n.Elem().Set(reflect.NewAt(et, p).Elem())
		q := n.UnsafePointer()
		elem.fix(q)
		return q
	}
}

// sliceCopy returns the copy of a slice of type t: nil stays nil, an empty
// slice stays empty but not nil (msgpack keeps them apart), and a copy's
// capacity is its length.
func sliceCopy(t reflect.Type, elem *copier) func(sliceHeader) sliceHeader {
	et := t.Elem()
	size := et.Size()
	if !hasPointers(et) {
		return func(h sliceHeader) sliceHeader {
			if h.data == nil {
				return sliceHeader{}
			}
			n := uintptr(h.len) * size
			// Elements without pointers may live in memory of any type
			// without pointers; uint64 words are aligned for every type.
			words := make([]uint64, (n+7)/8)
			out := sliceHeader{data: unsafe.Pointer(unsafe.SliceData(words)), len: h.len, cap: h.len}
			copy(unsafe.Slice((*byte)(out.data), n), unsafe.Slice((*byte)(h.data), n))
			if !elem.empty() {
				for i := range uintptr(h.len) {
					elem.fix(unsafe.Add(out.data, i*size))
				}
			}
			return out
		}
	}
	return func(h sliceHeader) sliceHeader {
		if h.data == nil {
			return sliceHeader{}
		}
		if h.len == 0 {
			// Not nil, and no room to share.
			return sliceHeader{data: unsafe.Pointer(unsafe.SliceData(make([]uint64, 0)))}
		}
		// Values made by NewAt over locals: reflect allocates the elements
		// only, with the pointer layout of et.
		var out sliceHeader
		dst := reflect.NewAt(t, unsafe.Pointer(&out)).Elem()
		dst.Grow(h.len)
		dst.SetLen(h.len)
		dst.SetCap(h.len)
		reflect.Copy(dst, reflect.NewAt(t, unsafe.Pointer(&h)).Elem())
		if !elem.empty() {
			for i := range uintptr(h.len) {
				elem.fix(unsafe.Add(out.data, i*size))
			}
		}
		return out
	}
}

// mapCopy returns the copy of a map of type t, whose keys are plain values.
func mapCopy(t reflect.Type, elem *copier) func(unsafe.Pointer) unsafe.Pointer {
	return func(m unsafe.Pointer) unsafe.Pointer {
		if m == nil {
			return nil
		}
		src := reflect.NewAt(t, unsafe.Pointer(&m)).Elem()
		n := reflect.MakeMapWithSize(t, src.Len())
		k := reflect.New(t.Key()).Elem()
		v := reflect.New(t.Elem())
		for it := src.MapRange(); it.Next(); {
			k.SetIterKey(it)
			v.Elem().SetIterValue(it)
			elem.fix(v.UnsafePointer())
			n.SetMapIndex(k, v.Elem())
		}
		return n.UnsafePointer()
	}
}

// hasPointers reports whether a value of type t holds pointers the garbage
// collector must see, strings included.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Pointer, reflect.UnsafePointer, reflect.Map, reflect.Slice, reflect.String,
		reflect.Interface, reflect.Chan, reflect.Func:
		return true
	default:
		return false
	}
}
