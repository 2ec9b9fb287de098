package projection

import (
	"context"
	"errors"
	"reflect"
	"sync"
)

// Dispatcher routes events to the runtimes registered for their type, one
// per application rather than a process-wide global. The zero value is not usable; create one with NewDispatcher. It is
// safe for concurrent use, and handlers may register or unregister from
// inside a dispatch.
type Dispatcher struct {
	// mu guards handlers. Dispatch copies nothing: registration replaces a
	// type's slice instead of changing it, so a dispatch holds mu only to
	// read the current slice.
	mu       sync.RWMutex
	handlers map[reflect.Type][]*handler
}

// handler is one registration. fn is a func(context.Context, E) error for
// the registration's event type E.
type handler struct {
	owner any // the registered runtime, so registering it twice is harmless
	fn    any
}

// NewDispatcher returns an empty Dispatcher.
func NewDispatcher() *Dispatcher {
	return &Dispatcher{handlers: make(map[reflect.Type][]*handler)}
}

// Dispatch applies event with every runtime registered on d for type E, in
// registration order, and returns their errors joined (nil if all
// succeeded, or if none is registered). One runtime's failure does not stop
// the others. Each error names its projection.
func Dispatch[E any](ctx context.Context, d *Dispatcher, event E) error {
	d.mu.RLock()
	hs := d.handlers[reflect.TypeFor[E]()]
	d.mu.RUnlock()
	var errs []error
	for _, h := range hs {
		if err := h.fn.(func(context.Context, E) error)(ctx, event); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Register makes every Dispatch of an E on d apply the event with r, and
// returns a function that undoes it. Registering a runtime that is already
// registered on d adds nothing (events are never applied twice) and returns
// the existing unregister function. Unregister is idempotent.
func (r *Runtime[E, S, D]) Register(d *Dispatcher) (unregister func()) {
	t := reflect.TypeFor[E]()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range d.handlers[t] {
		if h.owner == r {
			return func() { d.remove(t, h) }
		}
	}
	h := &handler{owner: r, fn: func(ctx context.Context, e E) error {
		_, err := r.Apply(ctx, e)
		return err
	}}
	d.handlers[t] = append(d.handlers[t][:len(d.handlers[t]):len(d.handlers[t])], h)
	return func() { d.remove(t, h) }
}

func (d *Dispatcher) remove(t reflect.Type, h *handler) {
	d.mu.Lock()
	defer d.mu.Unlock()
	hs := d.handlers[t]
	for i, x := range hs {
		if x == h {
			next := make([]*handler, 0, len(hs)-1)
			next = append(append(next, hs[:i]...), hs[i+1:]...)
			if len(next) == 0 {
				delete(d.handlers, t)
			} else {
				d.handlers[t] = next
			}
			return
		}
	}
}
