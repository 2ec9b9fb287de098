package projection

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/livefold/livefold/internal/msgpackguard"
	"github.com/vmihailenco/msgpack/v5"
)

// codec encodes states with msgpack and hands out deep copies of states the
// runtime keeps. Copies are the cheapest that is still safe: a plain value
// copy when S holds no references, Clone when S implements Cloner, a deep
// copy worked out once per type that gives what a msgpack round trip would
// (see copier), and for the types that copy cannot reproduce, a decode
// of the state's encoded bytes, which the runtime keeps beside every state.
type codec[S any] struct {
	valueCopy bool // S holds no pointers, maps, slices, interfaces, channels or funcs
	cloner    bool // S may implement Cloner[S]
	// deep copies S as a msgpack round trip would, without encoding; nil
	// when S is not a type it can copy so (see deepCopier).
	deep     *copier
	encoders sync.Pool
}

type encoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

func newCodec[S any]() *codec[S] {
	t := reflect.TypeFor[S]()
	c := &codec[S]{
		valueCopy: isPlainValue(t),
		// An interface S may hold values that implement Cloner.
		cloner: t.Kind() == reflect.Interface || t.Implements(reflect.TypeFor[Cloner[S]]()),
	}
	if !c.valueCopy && !c.cloner {
		c.deep, _ = deepCopier(t)
	}
	c.encoders.New = func() any {
		e := &encoder{}
		e.enc = msgpack.NewEncoder(&e.buf)
		return e
	}
	return c
}

// encode returns the msgpack encoding of *s in a new slice owned by the
// caller, reusing a pooled encoder and buffer.
func (c *codec[S]) encode(s *S) (b []byte, err error) {
	e := c.encoders.Get().(*encoder)
	defer func() {
		// A MarshalMsgpack method of the user's may panic: report it as an
		// encoding failure, not a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrEncode, r)
		}
		if e.buf.Cap() <= 64<<10 { // do not pin huge buffers in the pool
			c.encoders.Put(e)
		}
	}()
	e.buf.Reset()
	if err := e.enc.Encode(s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// decode returns a fresh S decoded from b.
func (c *codec[S]) decode(b []byte) (s S, err error) {
	if err := msgpackguard.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return s, nil
}

// clone returns a deep copy of *s, whose encoding is b; see cloneInto.
func (c *codec[S]) clone(s *S, b []byte) (out S, err error) {
	err = c.cloneInto(&out, s, b)
	return out, err
}

// cloneInto makes *dst a deep copy of *s, whose encoding is b. It keeps no
// reference to dst or s, so a copy into a caller's variable costs no
// allocation of its own. A panicking Clone method is reported as
// ErrApplyPanic: callers hold locks.
func (c *codec[S]) cloneInto(dst, s *S, b []byte) (err error) {
	if c.valueCopy {
		*dst = *s
		return nil
	}
	if c.cloner {
		if cl, ok := any(*s).(Cloner[S]); ok {
			defer func() {
				if v := recover(); v != nil {
					err = fmt.Errorf("%w: Clone panicked: %v", ErrApplyPanic, v)
				}
			}()
			*dst = cl.Clone()
			return nil
		}
	}
	switch {
	case c.deep != nil && len(c.deep.zeroes) == 0:
		*dst = *s
		c.deep.copyRefs(unsafe.Pointer(dst))
		return nil
	case c.deep != nil:
		// Zeroing skipped fields that hold pointers goes through reflect,
		// which needs the copy on the heap.
		p := new(S)
		*p = *s
		c.deep.fix(unsafe.Pointer(p))
		*dst = *p
		return nil
	case b == nil:
		var zero S
		*dst = zero
		return nil
	}
	out, err := c.decode(b)
	if err != nil {
		return err
	}
	*dst = out
	return nil
}

// isPlainValue reports whether copying a value of type t copies everything
// mutable it refers to. Strings count as plain: they are immutable.
func isPlainValue(t reflect.Type) bool {
	if t == reflect.TypeFor[time.Time]() {
		return true // its *Location is shared and never mutated
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return isPlainValue(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !isPlainValue(t.Field(i).Type) {
				return false
			}
		}
		return true
	default:
		return false
	}
}
