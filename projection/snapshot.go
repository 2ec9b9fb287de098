package projection

import "time"

// Snapshot is a key's committed state with its version (the number of events
// folded into it since it was created or last rebuilt) and the time of its
// last commit.
type Snapshot[S any] struct {
	State     S
	Version   uint64
	Lineage   uint64 // the history Version counts in; see Cursor
	UpdatedAt time.Time
}

// Update is one live change of a key, as delivered to subscribers.
//
// Version is the key's snapshot version after the change. For [KindDelta]
// updates Delta is what the fold returned and State the state after it; for
// the other kinds State is the full state and Delta the zero value. Updates
// are shared by all subscribers: treat State and Delta as read-only.
type Update[S, D any] struct {
	Key     string
	Kind    Kind
	Version uint64
	Lineage uint64 // the history Version counts in; see Cursor. 0 for KindDeleted
	Delta   D
	State   S
}
