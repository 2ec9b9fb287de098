package msgpackguard

import (
	"encoding/binary"
	"fmt"
)

// Check walks b as exactly one msgpack value without decoding it and reports,
// as an error wrapping ErrMalformed, the first length or count that does not
// fit in the bytes that follow, a reserved byte, a truncation, or bytes after
// the value. msgpack v5.4 allocates whatever a header claims before reading
// the data (vmihailenco/msgpack issue 401); bytes that pass this check cannot
// make it allocate more than a small multiple of len(b) per element. The walk
// is iterative, so deep nesting cannot exhaust the stack. Check never panics,
// allocates only the error it returns, and does not retain b; it is safe for
// concurrent use.
func Check(b []byte) error {
	pending := uint64(1) // values still to read
	for pending > 0 {
		if len(b) == 0 {
			return fmt.Errorf("%w: truncated", ErrMalformed)
		}
		pending--
		c := b[0]
		b = b[1:]
		var size, count uint64 // bytes of payload to skip; nested values to read
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
			// fixint, nil, false, true: no payload
		case c <= 0x8f:
			count = 2 * uint64(c&0x0f)
		case c <= 0x9f:
			count = uint64(c & 0x0f)
		case c <= 0xbf:
			size = uint64(c & 0x1f)
		case c == 0xc1:
			return fmt.Errorf("%w: reserved byte 0xc1", ErrMalformed)
		default:
			var ok bool
			if b, size, count, ok = sizedHeader(c, b); !ok {
				return fmt.Errorf("%w: truncated header 0x%02x", ErrMalformed, c)
			}
		}
		if size > uint64(len(b)) {
			return fmt.Errorf("%w: %d bytes declared, %d left", ErrMalformed, size, len(b))
		}
		b = b[size:]
		// Every value takes at least one byte, so a count beyond the bytes
		// left cannot be honest.
		if pending+count > uint64(len(b)) {
			return fmt.Errorf("%w: %d values declared, %d bytes left", ErrMalformed, count, len(b))
		}
		pending += count
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the value", ErrMalformed, len(b))
	}
	return nil
}

// sizedHeader reads the length field of the msgpack types 0xc4 to 0xdf and
// returns the rest of b, the payload size to skip and the nested values to
// read.
func sizedHeader(c byte, b []byte) (rest []byte, size, count uint64, ok bool) {
	n := func(width int) (uint64, bool) {
		if len(b) < width {
			return 0, false
		}
		var v uint64
		switch width {
		case 1:
			v = uint64(b[0])
		case 2:
			v = uint64(binary.BigEndian.Uint16(b))
		case 4:
			v = uint64(binary.BigEndian.Uint32(b))
		}
		b = b[width:]
		return v, true
	}
	var v uint64
	switch c {
	case 0xc4, 0xd9: // bin8, str8
		v, ok = n(1)
		return b, v, 0, ok
	case 0xc5, 0xda: // bin16, str16
		v, ok = n(2)
		return b, v, 0, ok
	case 0xc6, 0xdb: // bin32, str32
		v, ok = n(4)
		return b, v, 0, ok
	case 0xc7: // ext8: length, then a type byte
		v, ok = n(1)
		return b, v + 1, 0, ok
	case 0xc8:
		v, ok = n(2)
		return b, v + 1, 0, ok
	case 0xc9:
		v, ok = n(4)
		return b, v + 1, 0, ok
	case 0xca:
		return b, 4, 0, true
	case 0xcb:
		return b, 8, 0, true
	case 0xcc, 0xd0:
		return b, 1, 0, true
	case 0xcd, 0xd1:
		return b, 2, 0, true
	case 0xce, 0xd2:
		return b, 4, 0, true
	case 0xcf, 0xd3:
		return b, 8, 0, true
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16, plus the type byte
		return b, 1 + 1<<(c-0xd4), 0, true
	case 0xdc: // array16
		v, ok = n(2)
		return b, 0, v, ok
	case 0xdd:
		v, ok = n(4)
		return b, 0, v, ok
	case 0xde: // map16
		v, ok = n(2)
		return b, 0, 2 * v, ok
	case 0xdf:
		v, ok = n(4)
		return b, 0, 2 * v, ok
	}
	return b, 0, 0, false
}
