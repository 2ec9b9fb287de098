package projection

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Cursor is where a subscriber stands in a key's history: the lineage of the
// state it has and the version within that lineage. A key gets a new lineage
// when it is first written, at every Rebuild, and when it is written again
// after a delete; lineages are never reused, so a cursor can never be
// mistaken for a position in another history, even across restarts,
// evictions and other writers. The zero Cursor stands before a key that
// never existed.
type Cursor struct{ Lineage, Version uint64 }

// String returns the cursor's text form, the event id of an SSE stream:
// opaque to clients, who only hand it back.
func (c Cursor) String() string {
	return strconv.FormatUint(c.Lineage, 16) + "-" + strconv.FormatUint(c.Version, 10)
}

// ParseCursor is the inverse of Cursor.String. Any other text, such as the
// bare version numbers older servers used as event ids, returns an error
// wrapping ErrInvalidCursor.
func ParseCursor(s string) (Cursor, error) {
	bad := func() (Cursor, error) { return Cursor{}, fmt.Errorf("%w %.40q", ErrInvalidCursor, s) }
	lin, ver, ok := strings.Cut(s, "-")
	if !ok {
		return bad()
	}
	l, err := strconv.ParseUint(lin, 16, 64)
	if err != nil {
		return bad()
	}
	v, err := strconv.ParseUint(ver, 10, 64)
	if err != nil {
		return bad()
	}
	c := Cursor{Lineage: l, Version: v}
	if c.String() != s { // leading zeros, upper case, signs: not what String writes
		return bad()
	}
	return c, nil
}

// Cursor returns where a subscriber that has this snapshot stands.
func (s Snapshot[S]) Cursor() Cursor { return Cursor{Lineage: s.Lineage, Version: s.Version} }

// Cursor returns where a subscriber stands once it has applied this update.
func (u Update[S, D]) Cursor() Cursor { return Cursor{Lineage: u.Lineage, Version: u.Version} }

// newLineage returns a lineage for a key's new history: random and non-zero,
// so that no two histories of a key share one.
func newLineage() uint64 {
	for {
		if l := rand.Uint64(); l != 0 {
			return l
		}
	}
}
