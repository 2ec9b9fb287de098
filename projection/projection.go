package projection

// Projection folds events of type E into per-key states of type S and
// describes each change as a delta of type D.
//
// Name, Key and Apply must be safe to call from many goroutines at once.
// Apply is called with the key's lock held: it must be pure and quick (no
// I/O, no blocking) and must fold deterministically, because a fold may be
// repeated in [Runtime.Rebuild] and its result compared with the original.
type Projection[E, S, D any] interface {
	// Name is stable and unique per store, e.g. "inventory.dashboard". It
	// names the bbolt bucket and the live channels, so it must be a valid
	// dot-separated channel name.
	Name() string
	// Key returns the key of the snapshot that event belongs to.
	Key(event E) string
	// Apply folds event into *state and returns the delta it made.
	Apply(state *S, event E) D
}

// BroadcastNamer is an optional interface for a [Projection]: the name it
// returns is the "event" field of the frames that the SSE handler sends for
// delta updates. Without it the name is "delta".
type BroadcastNamer interface {
	BroadcastEventName() string
}

// Cloner is an optional interface for a state type S: when S implements it,
// the runtime uses Clone to hand out copies of states it keeps, instead of its
// own deep copy. Clone must return a deep copy sharing no mutable
// memory with the receiver.
type Cloner[S any] interface {
	Clone() S
}

// defaultBroadcastName is the event name of delta frames unless the
// projection names its own (see BroadcastNamer).
const defaultBroadcastName = "delta"
