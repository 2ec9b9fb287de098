package msgpackguard

import (
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

var (
	// ErrMalformed reports msgpack bytes whose structure does not hold
	// together: a length or count beyond the bytes that follow, a reserved
	// byte, a truncation, or bytes after the value. Check returns it, and
	// Unmarshal before the decoder sees the bytes.
	ErrMalformed = errors.New("msgpackguard: malformed msgpack")
	// ErrDecode reports well-formed msgpack that the decoder refused (the
	// value does not fit the target type, an unknown extension) or panicked
	// on (a map key that cannot be a Go map key, a panicking DecodeMsgpack
	// or UnmarshalMsgpack method).
	ErrDecode = errors.New("msgpackguard: cannot decode msgpack")
)

// Unmarshal decodes b, which must be exactly one msgpack value, into v as
// msgpack.Unmarshal does, after Check has accepted b. A failed check returns
// an error wrapping ErrMalformed, and the decoder never sees b; a decoder
// error or panic returns one wrapping ErrDecode. v may then hold part of the
// value. Unmarshal is safe for concurrent use with distinct v; what it
// decodes into v shares no memory with b.
func Unmarshal(b []byte, v any) (err error) {
	if err := Check(b); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decoder panicked: %v", ErrDecode, r)
		}
	}()
	if err := msgpack.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return nil
}
