package boltstore

import "runtime"

// onCommitter reports whether the caller is a done callback running on the
// committer goroutine. The cheap flag filters out nearly every call; only
// calls made while callbacks run pay for the goroutine id (about 1-2µs).
func (s *Store) onCommitter() bool {
	return s.inCallback.Load() && goid() == s.committerID.Load()
}

// goid returns the current goroutine's id, parsed from the first line of its
// stack trace ("goroutine 123 [running]:"). Go deliberately exposes no
// goroutine identity; this is the one place that needs it, because a done
// callback that calls Commit or Close would otherwise wait for the committer
// that is running it, for ever.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
