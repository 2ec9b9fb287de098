package main

import (
	"slices"
	"sync"
)

// keyLocks is the original runtime's per-key lock map (a DashMap of
// mutexes): one mutex per key ever seen, never removed, so it grows with the
// key space. The peers use it so that they pay what it pays.
type keyLocks struct {
	m sync.Map // string -> *sync.Mutex
}

// lock locks key's mutex and returns its unlock.
func (l *keyLocks) lock(key string) func() {
	v, ok := l.m.Load(key)
	if !ok {
		v, _ = l.m.LoadOrStore(key, new(sync.Mutex))
	}
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// size returns how many keys the map holds a mutex for.
func (l *keyLocks) size() int {
	n := 0
	l.m.Range(func(any, any) bool { n++; return true })
	return n
}

// lockAll locks the distinct keys of events in key order, so that batches
// cannot deadlock each other, and returns one function that unlocks them all.
func (l *keyLocks) lockAll(events []event) func() {
	keys := make([]string, len(events))
	for i, e := range events {
		keys[i] = e.Key
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	unlocks := make([]func(), len(keys))
	for i, k := range keys {
		unlocks[i] = l.lock(k)
	}
	return func() {
		for _, u := range unlocks {
			u()
		}
	}
}
