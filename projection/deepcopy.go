package projection

import (
	"reflect"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// copier deep-copies src into dst, a settable value of the same type.
type copier func(dst, src reflect.Value)

// deepCopier returns a copier for t that gives what a msgpack round trip
// would give, without encoding: exported fields copied, deeply; fields
// msgpack skips (tagged "-") left zero. It reports false for types whose
// round trip it cannot reproduce exactly, which are then copied through
// msgpack: types with their own msgpack encoding, unexported fields (msgpack
// drops them, a copy could not reach into them), interfaces, channels,
// functions and non-plain map keys.
func deepCopier(t reflect.Type) (copier, bool) {
	b := copierBuilder{done: map[reflect.Type]*copier{}}
	c, ok := b.build(t)
	if !ok {
		return nil, false
	}
	return c, true
}

// copierBuilder compiles copiers, once per type, so that recursive types
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

func (b *copierBuilder) build(t reflect.Type) (copier, bool) {
	if c, ok := b.done[t]; ok {
		// Being built, or built: call through the pointer so a recursive
		// type gets the finished copier.
		return func(dst, src reflect.Value) { (*c)(dst, src) }, true
	}
	if t != reflect.TypeFor[time.Time]() && custom(t) {
		return nil, false
	}
	if isPlainValue(t) && t.Kind() != reflect.Struct {
		return func(dst, src reflect.Value) { dst.Set(src) }, true
	}
	slot := new(copier)
	b.done[t] = slot
	c, ok := b.compile(t)
	if !ok {
		return nil, false
	}
	*slot = c
	return c, true
}

func (b *copierBuilder) compile(t reflect.Type) (copier, bool) {
	switch t.Kind() {
	case reflect.Struct:
		return b.structCopier(t)
	case reflect.Pointer:
		elem, ok := b.build(t.Elem())
		if !ok {
			return nil, false
		}
		et := t.Elem()
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero()
				return
			}
			n := reflect.New(et)
			elem(n.Elem(), src.Elem())
			dst.Set(n)
		}, true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			// []byte round-trips as bin: nil and empty stay apart.
			return func(dst, src reflect.Value) {
				if src.IsNil() {
					dst.SetZero()
					return
				}
				dst.SetBytes(append([]byte{}, src.Bytes()...))
			}, true
		}
		elem, ok := b.build(t.Elem())
		if !ok {
			return nil, false
		}
		plain := isPlainValue(t.Elem()) && !hasSkippedField(t.Elem())
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero()
				return
			}
			n := reflect.MakeSlice(t, src.Len(), src.Len())
			if plain {
				reflect.Copy(n, src)
			} else {
				for i := range src.Len() {
					elem(n.Index(i), src.Index(i))
				}
			}
			dst.Set(n)
		}, true
	case reflect.Array:
		elem, ok := b.build(t.Elem())
		if !ok {
			return nil, false
		}
		return func(dst, src reflect.Value) {
			for i := range src.Len() {
				elem(dst.Index(i), src.Index(i))
			}
		}, true
	case reflect.Map:
		if !isPlainValue(t.Key()) || t.Key().Kind() == reflect.Struct || custom(t.Key()) {
			return nil, false
		}
		elem, ok := b.build(t.Elem())
		if !ok {
			return nil, false
		}
		et := t.Elem()
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero()
				return
			}
			n := reflect.MakeMapWithSize(t, src.Len())
			v := reflect.New(et).Elem()
			for it := src.MapRange(); it.Next(); {
				v.SetZero()
				elem(v, it.Value())
				n.SetMapIndex(it.Key(), v)
			}
			dst.Set(n)
		}, true
	default:
		return nil, false
	}
}

func (b *copierBuilder) structCopier(t reflect.Type) (copier, bool) {
	if t == reflect.TypeFor[time.Time]() {
		return func(dst, src reflect.Value) { dst.Set(src) }, true
	}
	type field struct {
		i    int
		copy copier
	}
	var fields []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			return nil, false
		}
		if name, _, _ := strings.Cut(f.Tag.Get("msgpack"), ","); name == "-" {
			continue // msgpack skips it: the copy leaves it zero
		}
		c, ok := b.build(f.Type)
		if !ok {
			return nil, false
		}
		fields = append(fields, field{i, c})
	}
	return func(dst, src reflect.Value) {
		for _, f := range fields {
			f.copy(dst.Field(f.i), src.Field(f.i))
		}
	}, true
}

// hasSkippedField reports whether t is a struct with a field msgpack skips,
// which a plain copy would carry over.
func hasSkippedField(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("msgpack"), ","); name == "-" {
			return true
		}
	}
	return false
}
