package main

import (
	"encoding/base64"
	"fmt"
	"math"
	"time"

	"github.com/livefold/livefold/internal/msgpackguard"
	"github.com/vmihailenco/msgpack/v5"
)

// decodeState decodes msgpack bytes without knowing the Go type they were
// encoded from, into a value encoding/json can marshal: see jsonValue. It
// decodes through msgpackguard, as the projection runtime does, so a state
// whose headers claim more than its bytes hold is refused before anything is
// allocated for it, and a panic of the decoder is an error.
//
// Bytes after the first value are an error, since a state is one value.
func decodeState(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, nil // boltstore allows an empty state; the runtime never writes one
	}
	var u untypedState
	if err := msgpackguard.Unmarshal(b, &u); err != nil {
		return nil, err
	}
	return jsonValue(u.v), nil
}

// untypedState is a msgpack value decoded into any, except that every map
// decodes as map[any]any: msgpack's default decodes maps only with string
// keys and fails on a map[int]T field.
type untypedState struct{ v any }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (u *untypedState) DecodeMsgpack(d *msgpack.Decoder) error {
	d.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
	// d is msgpack's pooled decoder, which starts without a map decoder;
	// leave it as it was found.
	defer d.SetMapDecoder(nil)
	v, err := d.DecodeInterface()
	u.v = v
	return err
}

// jsonValue converts a value decoded by msgpack into one encoding/json
// marshals without error or loss of type information that JSON can carry:
// maps become objects with string keys (see jsonKey), binary values base64
// strings (as encoding/json writes []byte), timestamps RFC 3339 strings in
// UTC, and the floats JSON cannot represent the strings "NaN", "+Inf" and
// "-Inf". Integers of any width stay exact.
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[jsonKey(k)] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float32:
		return jsonFloat(float64(x), x)
	case float64:
		return jsonFloat(x, x)
	}
	return v
}

// jsonFloat returns orig, or a string for the values JSON has no number for.
func jsonFloat(f float64, orig any) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return orig
}

// jsonKey turns a msgpack map key into a JSON object key: strings as they
// are, binary keys in base64, anything else (integers, booleans, nil) as fmt
// prints it. Two keys that print alike (the integer 1 and the string "1")
// collide; msgpack states encoded from Go maps have keys of one type.
func jsonKey(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case nil:
		return "null"
	}
	return fmt.Sprint(k)
}
