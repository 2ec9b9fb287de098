package lockmap

// Refs returns how many goroutines hold or wait on key. Tests use it to learn
// that a waiter has registered before they act on it, which the public API
// cannot tell.
func Refs[K comparable](m *Map[K], key K) int {
	var refs int64
	m.entries.Compute(key, func(old *entry, loaded bool) (*entry, bool) {
		if !loaded {
			return nil, true
		}
		refs = old.refs
		return old, false
	})
	return int(refs)
}
