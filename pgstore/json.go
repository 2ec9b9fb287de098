package pgstore

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Bounds of the JSON view of a state. Deeper or larger states get no view:
// PostgreSQL's jsonb holds at most 256 MiB and parses nesting recursively,
// and a view that the database refused would fail the whole commit.
const (
	maxJSONDepth = 100
	maxJSONBytes = 64 << 20
)

// jsonView returns the JSON form of a msgpack-encoded state for the
// state_json column, and false when the state has none (see the package
// documentation, JSONB). It reads b as untrusted: every length is checked
// against the bytes left before it is used, nesting is bounded, and the
// output is bounded, so no input can make it allocate more than
// maxJSONBytes or recurse deeper than maxJSONDepth. It never panics.
func jsonView(b []byte) ([]byte, bool) {
	v := viewer{in: b, out: make([]byte, 0, min(16+len(b)*3/2, 64<<10))}
	if !v.value(0) || len(v.in) != 0 {
		return nil, false
	}
	return v.out, true
}

// viewer walks msgpack bytes and writes their JSON form.
type viewer struct {
	in  []byte // the bytes not read yet
	out []byte
}

// take consumes and returns the next n bytes, or reports that fewer are
// left.
func (v *viewer) take(n uint64) ([]byte, bool) {
	if n > uint64(len(v.in)) {
		return nil, false
	}
	b := v.in[:n]
	v.in = v.in[n:]
	return b, true
}

// length reads a big-endian length of width bytes.
func (v *viewer) length(width uint64) (uint64, bool) {
	b, ok := v.take(width)
	if !ok {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n, true
}

// room reports whether the output may still grow by n bytes.
func (v *viewer) room(n int) bool { return len(v.out)+n <= maxJSONBytes }

func (v *viewer) value(depth int) bool {
	if depth > maxJSONDepth || !v.room(32) {
		return false
	}
	head, ok := v.take(1)
	if !ok {
		return false
	}
	c := head[0]
	switch {
	case c <= 0x7f:
		v.out = strconv.AppendUint(v.out, uint64(c), 10)
		return true
	case c >= 0xe0:
		v.out = strconv.AppendInt(v.out, int64(int8(c)), 10)
		return true
	case c <= 0x8f:
		return v.object(uint64(c&0x0f), depth)
	case c <= 0x9f:
		return v.array(uint64(c&0x0f), depth)
	case c <= 0xbf:
		return v.str(uint64(c & 0x1f))
	}
	switch c {
	case 0xc0:
		v.out = append(v.out, "null"...)
	case 0xc2:
		v.out = append(v.out, "false"...)
	case 0xc3:
		v.out = append(v.out, "true"...)
	case 0xc4, 0xc5, 0xc6: // bin 8, 16, 32
		n, ok := v.length(1 << (c - 0xc4))
		if !ok {
			return false
		}
		return v.bin(n)
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32
		n, ok := v.length(1 << (c - 0xc7))
		if !ok {
			return false
		}
		return v.ext(n)
	case 0xca:
		b, ok := v.take(4)
		if !ok {
			return false
		}
		return v.float(float64(math.Float32frombits(binary.BigEndian.Uint32(b))), 32)
	case 0xcb:
		b, ok := v.take(8)
		if !ok {
			return false
		}
		return v.float(math.Float64frombits(binary.BigEndian.Uint64(b)), 64)
	case 0xcc, 0xcd, 0xce, 0xcf: // uint 8, 16, 32, 64
		n, ok := v.length(1 << (c - 0xcc))
		if !ok {
			return false
		}
		v.out = strconv.AppendUint(v.out, n, 10)
	case 0xd0, 0xd1, 0xd2, 0xd3: // int 8, 16, 32, 64
		width := uint64(1) << (c - 0xd0)
		n, ok := v.length(width)
		if !ok {
			return false
		}
		shift := 64 - 8*width // sign-extend
		v.out = strconv.AppendInt(v.out, int64(n<<shift)>>shift, 10)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		return v.ext(1 << (c - 0xd4))
	case 0xd9, 0xda, 0xdb: // str 8, 16, 32
		n, ok := v.length(1 << (c - 0xd9))
		if !ok {
			return false
		}
		return v.str(n)
	case 0xdc, 0xdd: // array 16, 32
		n, ok := v.length(2 << (c - 0xdc))
		if !ok {
			return false
		}
		return v.array(n, depth)
	case 0xde, 0xdf: // map 16, 32
		n, ok := v.length(2 << (c - 0xde))
		if !ok {
			return false
		}
		return v.object(n, depth)
	default: // 0xc1, never used
		return false
	}
	return true
}

func (v *viewer) array(n uint64, depth int) bool {
	// Every element takes at least a byte: a count beyond the bytes left
	// is a lie, refused before the loop rather than after it.
	if n > uint64(len(v.in)) {
		return false
	}
	v.out = append(v.out, '[')
	for i := range n {
		if i > 0 {
			v.out = append(v.out, ',')
		}
		if !v.value(depth + 1) {
			return false
		}
	}
	v.out = append(v.out, ']')
	return true
}

func (v *viewer) object(n uint64, depth int) bool {
	if n > uint64(len(v.in))/2 {
		return false
	}
	v.out = append(v.out, '{')
	for i := range n {
		if i > 0 {
			v.out = append(v.out, ',')
		}
		if !v.key() {
			return false
		}
		v.out = append(v.out, ':')
		if !v.value(depth + 1) {
			return false
		}
	}
	v.out = append(v.out, '}')
	return true
}

// key writes a map key: JSON keys are strings, so a string stays one and an
// integer is written in decimal, as encoding/json writes integer keys; any
// other key leaves the state without a view.
func (v *viewer) key() bool {
	if len(v.in) == 0 {
		return false
	}
	c := v.in[0]
	switch {
	case c >= 0xa0 && c <= 0xbf, c == 0xd9, c == 0xda, c == 0xdb:
		return v.value(0)
	case c <= 0x7f, c >= 0xe0, c >= 0xcc && c <= 0xd3:
		v.out = append(v.out, '"')
		if !v.value(0) {
			return false
		}
		v.out = append(v.out, '"')
		return true
	}
	return false
}

func (v *viewer) str(n uint64) bool {
	b, ok := v.take(n)
	if !ok || !v.room(6*len(b)+2) {
		return false
	}
	v.out = appendJSONString(v.out, b)
	return true
}

// bin writes binary data in base64, as encoding/json writes a []byte.
func (v *viewer) bin(n uint64) bool {
	b, ok := v.take(n)
	if !ok || !v.room(base64.StdEncoding.EncodedLen(len(b))+2) {
		return false
	}
	v.out = append(v.out, '"')
	v.out = base64.StdEncoding.AppendEncode(v.out, b)
	v.out = append(v.out, '"')
	return true
}

// ext writes the msgpack timestamp extension (type -1) as an RFC 3339
// string in UTC, as encoding/json writes a time.Time; other extension types
// leave the state without a view.
func (v *viewer) ext(n uint64) bool {
	typ, ok := v.take(1)
	if !ok {
		return false
	}
	b, ok := v.take(n)
	if !ok || int8(typ[0]) != -1 {
		return false
	}
	var sec, nsec int64
	switch len(b) {
	case 4:
		sec = int64(binary.BigEndian.Uint32(b))
	case 8:
		d := binary.BigEndian.Uint64(b)
		sec, nsec = int64(d&(1<<34-1)), int64(d>>34)
	case 12:
		nsec, sec = int64(binary.BigEndian.Uint32(b)), int64(binary.BigEndian.Uint64(b[4:]))
	default:
		return false
	}
	if nsec >= 1e9 {
		return false
	}
	v.out = append(v.out, '"')
	v.out = time.Unix(sec, nsec).UTC().AppendFormat(v.out, time.RFC3339Nano)
	v.out = append(v.out, '"')
	return true
}

// float writes f as encoding/json does; NaN and infinities have no JSON
// form.
func (v *viewer) float(f float64, bits int) bool {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	v.out = strconv.AppendFloat(v.out, f, format, -1, bits)
	if format == 'e' {
		// e-09 to e-9, as encoding/json writes it.
		if n := len(v.out); n >= 4 && v.out[n-4] == 'e' && v.out[n-3] == '-' && v.out[n-2] == '0' {
			v.out[n-2] = v.out[n-1]
			v.out = v.out[:n-1]
		}
	}
	return true
}

// appendJSONString appends s as a JSON string. Bytes that are not valid
// UTF-8 become U+FFFD, as encoding/json makes them, and so does U+0000,
// which jsonb cannot hold.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == 0:
			dst = append(dst, `\ufffd`...)
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}
