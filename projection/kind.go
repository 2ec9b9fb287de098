package projection

import "strconv"

// Kind says what an [Update] carries.
type Kind uint8

const (
	// KindDelta follows one applied event: Delta is what the fold returned and
	// State the key's state after it.
	KindDelta Kind = iota + 1
	// KindRebuild follows a Rebuild: State is the rebuilt state and Version the
	// number of events folded; Delta is the zero value.
	KindRebuild
	// KindResync carries the full current State and its Version, sent when a
	// subscriber starts with WithInitialState, resumes from beyond the
	// history, or missed updates because it fell behind. A client replaces its
	// copy with State.
	KindResync
	// KindDeleted says the key's snapshot no longer exists (an empty Rebuild).
	// State is the zero value and Version 0.
	KindDeleted
)

// String returns "delta", "rebuild", "resync" or "deleted".
func (k Kind) String() string {
	switch k {
	case KindDelta:
		return "delta"
	case KindRebuild:
		return "rebuild"
	case KindResync:
		return "resync"
	case KindDeleted:
		return "deleted"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}
