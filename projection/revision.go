package projection

import (
	"context"
	"fmt"
	"iter"
)

// Revisioned is an optional interface of a Projection whose code says which
// revision of its fold it is. RebuildAll records the revision that built the
// current generation; when the code's revision differs from the recorded
// one, New says so (Runtime.Revision, and a log line) and, with
// WithRebuildOnRevisionChange, rebuilds every key in the background. Change
// the revision whenever a change to Apply changes what it folds.
type Revisioned interface {
	Revision() string
}

// Revision returns the revision of the projection's code (empty when it is
// not Revisioned) and the one that built the current generation (empty
// before the first RebuildAll). They differ when the stored snapshots were
// folded by other code and a RebuildAll is due.
func (r *Runtime[E, S, D]) Revision() (code, stored string) {
	r.metaMu.Lock()
	defer r.metaMu.Unlock()
	return r.revision, r.meta.Revision
}

// WithRebuildOnRevisionChange makes New start RebuildAll in the background,
// with the events source returns, when the projection's code revision (see
// Revisioned) differs from the one that built the stored snapshots. The
// runtime serves the current generation until the switch; Close cancels the
// rebuild, and a failed one is logged and tried again at the next New.
func WithRebuildOnRevisionChange[E any](source func(ctx context.Context) iter.Seq[E]) Option {
	return func(c *config) error {
		if source == nil {
			return fmt.Errorf("%w: nil rebuild source", ErrInvalidOption)
		}
		c.rebuildSource = source
		return nil
	}
}

// startRevisionRebuild starts the rebuild WithRebuildOnRevisionChange asks
// for, if the revisions differ.
func (r *Runtime[E, S, D]) startRevisionRebuild() error {
	if r.revision == r.meta.Revision {
		return nil
	}
	r.cfg.logger.Warn("projection: the stored snapshots were folded by another revision of the code",
		"projection", r.name, "code", r.revision, "stored", r.meta.Revision)
	if r.cfg.rebuildSource == nil {
		return nil
	}
	source, ok := r.cfg.rebuildSource.(func(context.Context) iter.Seq[E])
	if !ok {
		return fmt.Errorf("%w: WithRebuildOnRevisionChange needs a source of %T", ErrInvalidOption, *new(E))
	}
	r.bg.run(func(ctx context.Context) {
		if err := r.RebuildAll(ctx, source(ctx)); err != nil {
			r.cfg.logger.Error("projection: the rebuild for the new revision failed", "projection", r.name, "err", err)
		}
	})
	return nil
}
