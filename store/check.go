package store

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// WriteOverhead is what RequestSize counts for each write beyond its bucket
// name, key and state: room for a store's own framing of it.
const WriteOverhead = 64

// CheckName returns an error wrapping ErrInvalidName unless name is a valid
// bucket name: non-empty, valid UTF-8, at most MaxNameLen bytes.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w %q: %d bytes, more than %d", ErrInvalidName, QuoteKey(name), len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidName, QuoteKey(name))
	}
	return nil
}

// CheckKey returns an error wrapping ErrInvalidKey unless key is valid:
// non-empty, valid UTF-8, at most MaxKeyLen bytes.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w %q: %d bytes, more than %d", ErrInvalidKey, QuoteKey(key), len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidKey, QuoteKey(key))
	}
	return nil
}

// CheckWrites validates a request the way every store must before accepting
// it, and returns its size as RequestSize measures it. Errors:
// ErrInvalidName, ErrInvalidKey, ErrInvalidRecord (Version 0, an UpdatedAt
// outside the int64-nanosecond range, a request above MaxRequestBytes),
// ErrDuplicateWrite; each names the bucket and key.
func CheckWrites(writes []Write) (size int, err error) {
	for i := range writes {
		w := &writes[i]
		if err := CheckName(w.Bucket); err != nil {
			return 0, fmt.Errorf("key %q: %w", QuoteKey(w.Key), err)
		}
		if err := CheckKey(w.Key); err != nil {
			return 0, fmt.Errorf("bucket %q: %w", w.Bucket, err)
		}
		if w.Delete {
			continue
		}
		switch {
		case w.Record.Version == 0:
			return 0, fmt.Errorf("%w: bucket %q key %q: version 0", ErrInvalidRecord, w.Bucket, QuoteKey(w.Key))
		case !ValidTime(w.Record.UpdatedAt):
			return 0, fmt.Errorf("%w: bucket %q key %q: UpdatedAt %s outside the int64-nanosecond range",
				ErrInvalidRecord, w.Bucket, QuoteKey(w.Key), w.Record.UpdatedAt)
		}
	}
	size = RequestSize(writes)
	if size > MaxRequestBytes {
		return 0, fmt.Errorf("%w: the request's %d writes take %d bytes, more than %d", ErrInvalidRecord, len(writes), size, MaxRequestBytes)
	}
	return size, checkDuplicates(writes)
}

// RequestSize returns the size of a request: over its writes, the bucket
// name, key and state lengths plus WriteOverhead each.
func RequestSize(writes []Write) int {
	n := 0
	for i := range writes {
		w := &writes[i]
		n += WriteOverhead + len(w.Bucket) + len(w.Key)
		if !w.Delete {
			n += len(w.Record.State)
		}
	}
	return n
}

// ValidTime reports whether t is an UpdatedAt every store keeps exactly: the
// zero time, or an instant of int64 Unix nanoseconds other than the first
// one (1677-09-21T00:12:43.145224192Z), which stores may use to stand for
// the zero time.
func ValidTime(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	return t.After(time.Unix(0, math.MinInt64)) && !t.After(time.Unix(0, math.MaxInt64))
}

func checkDuplicates(writes []Write) error {
	dup := func(w *Write) error {
		return fmt.Errorf("%w: bucket %q key %q", ErrDuplicateWrite, w.Bucket, QuoteKey(w.Key))
	}
	// Requests are usually one or a few writes: a quadratic scan beats
	// allocating a map.
	if len(writes) <= 16 {
		for i := range writes {
			for j := i + 1; j < len(writes); j++ {
				if writes[i].Bucket == writes[j].Bucket && writes[i].Key == writes[j].Key {
					return dup(&writes[j])
				}
			}
		}
		return nil
	}
	// Writes in strictly ascending order, as a runtime's batch submits them,
	// cannot repeat a key.
	ascending := true
	for i := 1; i < len(writes) && ascending; i++ {
		a, b := &writes[i-1], &writes[i]
		ascending = a.Bucket < b.Bucket || (a.Bucket == b.Bucket && a.Key < b.Key)
	}
	if ascending {
		return nil
	}
	type bk struct{ bucket, key string }
	seen := make(map[bk]struct{}, len(writes))
	for i := range writes {
		k := bk{writes[i].Bucket, writes[i].Key}
		if _, ok := seen[k]; ok {
			return dup(&writes[i])
		}
		seen[k] = struct{}{}
	}
	return nil
}

// CheckExpect reports whether a record found with version and stamp (found
// false: absent) satisfies w's Expect, and otherwise returns the
// *ConflictError to fail w's request with. Force always matches.
func CheckExpect(w *Write, found bool, version, stamp uint64) error {
	if w.Force {
		return nil
	}
	if !found {
		version, stamp = 0, 0
	}
	if version == w.Expect && stamp == w.ExpectStamp {
		return nil
	}
	return &ConflictError{Bucket: w.Bucket, Key: w.Key, Expected: w.Expect, ExpectedStamp: w.ExpectStamp, Actual: version, ActualStamp: stamp}
}
