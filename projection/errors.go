package projection

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test for them with errors.Is: the runtime wraps them with
// the projection's name, the key and the cause.
var (
	// ErrNotFound: ReadRequired found no snapshot for the key.
	ErrNotFound = errors.New("projection: snapshot not found")
	// ErrInvalidName: a projection's Name is empty or not a valid channel name.
	ErrInvalidName = errors.New("projection: invalid projection name")
	// ErrInvalidKey: a key is empty, longer than MaxKeyLen bytes, or not
	// valid UTF-8.
	ErrInvalidKey = errors.New("projection: invalid key")
	// ErrKeyMismatch: Rebuild was given an event whose Key is not the key
	// being rebuilt.
	ErrKeyMismatch = errors.New("projection: event key does not match")
	// ErrApplyPanic: the projection's Apply or Key panicked. The panic was
	// recovered; state and version are unchanged. See [PanicError].
	ErrApplyPanic = errors.New("projection: projection code panicked")
	// ErrAborted: the apply's commit kept finding a version it did not
	// expect (another writer kept changing the key) and the runtime gave up
	// after folding it again a bounded number of times; nothing changed.
	// Retrying later is safe.
	ErrAborted = errors.New("projection: aborted after repeated version conflicts")
	// ErrClosed: the runtime was closed (Close), or its store is closed.
	ErrClosed = errors.New("projection: closed")
	// ErrCorrupt: a stored snapshot is damaged or cannot be decoded into S.
	ErrCorrupt = errors.New("projection: corrupt snapshot")
	// ErrEncode: a state could not be encoded with msgpack; nothing changed.
	ErrEncode = errors.New("projection: cannot encode state")
	// ErrNoBus: Subscribe was called on a runtime created without a bus.
	ErrNoBus = errors.New("projection: runtime has no bus")
	// ErrInvalidCursor: ParseCursor was given text that Cursor.String does
	// not produce.
	ErrInvalidCursor = errors.New("projection: invalid cursor")
	// ErrRebuildRunning: RebuildAll was called while another RebuildAll of
	// the same runtime runs.
	ErrRebuildRunning = errors.New("projection: a RebuildAll is already running")
	// ErrInvalidOption: an option was given a value it cannot take.
	ErrInvalidOption = errors.New("projection: invalid option")
	// ErrNilArgument: New was given a nil store or projection.
	ErrNilArgument = errors.New("projection: nil argument")
	// ErrDuplicate: a Positioned event's position was already folded into
	// its key; the event was skipped and nothing changed. Apply also returns
	// the key's version.
	ErrDuplicate = errors.New("projection: duplicate event")
	// ErrGap: a Positioned event skipped positions of its key's stream; see
	// GapError.
	ErrGap = errors.New("projection: gap in stream positions")
	// ErrUnsupported: the store said it cannot do what was asked
	// (store.ErrUnsupported), such as walking a bucket for Verify or for
	// SubscribeAll with WithInitialState.
	ErrUnsupported = errors.New("projection: not supported by the store")
)

// PanicError reports a panic recovered from a projection's Key or Apply. It
// satisfies errors.Is(err, ErrApplyPanic).
type PanicError struct {
	Projection string // the projection's name
	Key        string // the key being folded; empty if Key itself panicked
	Value      any    // the value passed to panic
}

// Error names the projection, the key and the panic value.
func (e *PanicError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("projection %q: Key panicked: %v", e.Projection, e.Value)
	}
	return fmt.Sprintf("projection %q: Apply on key %q panicked: %v", e.Projection, e.Key, e.Value)
}

// Is reports whether target is ErrApplyPanic.
func (e *PanicError) Is(target error) bool { return target == ErrApplyPanic }

// Unwrap returns the panic value when it is an error, so errors.Is and
// errors.As see through to it.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
