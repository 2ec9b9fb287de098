package projection

import (
	"context"
	"errors"
	"fmt"
)

// Positioned is an optional interface for an event type whose events carry
// their position in their key's stream, such as an aggregate's stream
// version, counting from 1. With it a Runtime folds each position once: an
// event at or below the key's stored position is skipped (Apply returns
// ErrDuplicate and changes nothing), and an event that skips positions is
// refused with a *GapError unless the runtime was created WithGaps. A gap
// is confirmed against the store's record before it is reported, so a
// runtime whose cached state is behind another writer's commits (another
// process on a shared database) folds the event those commits made next.
// The position is stored in the same transaction as the state, so
// redelivered events have an exactly-once effect. A position of 0 means the
// event has none and is always folded.
//
// Positions only make sense when a projection's keys are the streams they
// count in; a projection that keys the same events differently (a total
// over all streams) must be created WithoutPositions.
type Positioned interface {
	StreamPosition() uint64
}

// errInFlight: whether the event folds depends on commits whose outcome is
// not known yet, such as that of an apply that folded its position; the
// fold is to be tried again once they are done.
var errInFlight = errors.New("projection: depends on commits in flight")

// GapError reports an event whose position skips positions of its key's
// stream. It satisfies errors.Is(err, ErrGap).
type GapError struct {
	Projection string
	Key        string
	Want, Got  uint64 // the next position expected and the event's
}

// Error names the projection, the key and both positions.
func (e *GapError) Error() string {
	return fmt.Sprintf("projection %q, key %q: event at position %d, expected %d (a gap; see WithGaps)", e.Projection, e.Key, e.Got, e.Want)
}

// Is reports whether target is ErrGap.
func (e *GapError) Is(target error) bool { return target == ErrGap }

// positionOf returns event's stream position, or 0 if positions are not in
// use. A panicking StreamPosition is reported as a *PanicError.
func (r *Runtime[E, S, D]) positionOf(event E) (pos uint64, err error) {
	if !r.positions {
		return 0, nil
	}
	p, ok := any(event).(Positioned)
	if !ok {
		return 0, nil
	}
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Projection: r.name, Value: fmt.Errorf("StreamPosition: %v", v)}
		}
	}()
	return p.StreamPosition(), nil
}

// admit decides whether an event at position pos folds onto a lineage whose
// last position is pending and whose last committed position is committed.
func (r *Runtime[E, S, D]) admit(key string, pos, pending, committed uint64) (bool, error) {
	switch {
	case pos == 0:
		return true, nil
	case pos <= committed:
		return false, nil
	case pos <= pending:
		return false, errInFlight
	case pos > pending+1 && !r.cfg.gaps:
		return false, &GapError{Projection: r.name, Key: key, Want: pending + 1, Got: pos}
	}
	return true, nil
}

// confirmGap decides what the gap a fold of e's key found means. The fold
// judged the event's position against the key's cached lineage, lin, which
// may be behind the store: another writer of the store (another process on
// a shared database) may have folded the missing positions before this
// runtime heard of it. So the key's record is read from the store: if it is
// the one lin committed, the gap is real and confirmGap returns gap, since
// commits in flight built on that record can only fail, which widens a gap.
// Otherwise it returns errInFlight, to fold again once the commits in flight
// are done; with none in flight the store holds another writer's record, and
// e is marked stale, so that the next fold reloads it. The caller holds the
// key's lock and a pin on e.
func (r *Runtime[E, S, D]) confirmGap(ctx context.Context, e *entry[S, D], lin lineage[S], gap error) error {
	stored, err := r.load(ctx, e.bucket, e.key)
	if err != nil {
		return err
	}
	if stored.version == lin.committedVer && stored.stamp == lin.committedStamp {
		return gap
	}
	if lin.base.version != lin.committedVer {
		// The store may hold a commit of this runtime's in flight, whose
		// outcome is not reported yet: wait for it.
		return errInFlight
	}
	e.sh.mu.Lock()
	if e.gen == lin.gen {
		e.stale = true
	}
	e.sh.mu.Unlock()
	return errInFlight
}
