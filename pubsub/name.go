package pubsub

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest channel name or pattern, in bytes. It bounds the
// work of validating a name and the depth of the index (matching recurses once
// per token). It leaves room for a 32 KiB key escaped as one token (up to three
// bytes per key byte) after a prefix such as "projection.{name}.".
const MaxNameLen = 1 << 17

// ValidChannel reports whether name is a literal channel name: non-empty
// dot-separated tokens, each non-empty, without whitespace, '*' or '>', and at
// most [MaxNameLen] bytes in all. The error wraps [ErrInvalidChannel] and
// names the channel.
func ValidChannel(name string) error {
	if reason := checkName(name, false); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidChannel, name, reason)
	}
	return nil
}

// ValidPattern reports whether p is a valid subscription pattern: like a
// channel name, except that a token may be "*" (matches exactly one token) and
// the last token may be ">" (matches one or more trailing tokens), as in NATS.
// '*' and '>' inside a longer token are invalid. The error wraps
// [ErrInvalidPattern] and names the pattern.
func ValidPattern(p string) error {
	if reason := checkName(p, true); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidPattern, p, reason)
	}
	return nil
}

// checkName returns why s is not a valid name, or "" if it is. It does not
// allocate for a valid name: Publish calls it on every message.
func checkName(s string, pattern bool) string {
	if s == "" {
		return "empty"
	}
	if len(s) > MaxNameLen {
		return fmt.Sprintf("longer than %d bytes", MaxNameLen)
	}
	start := 0
	for i := 0; i <= len(s); {
		if i == len(s) || s[i] == '.' {
			tok := s[start:i]
			switch {
			case tok == "":
				return "empty token"
			case tok == "*" || tok == ">":
				if !pattern {
					return "wildcard in a channel name"
				}
				if tok == ">" && i != len(s) {
					return "'>' is not the last token"
				}
			}
			i++
			start = i
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case asciiSpace(c):
				return "whitespace"
			case (c == '*' || c == '>') && (i > start || (i+1 < len(s) && s[i+1] != '.')):
				// A whole-token wildcard is judged when its token ends.
				return "wildcard inside a token"
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError && unicode.IsSpace(r) {
			return "whitespace"
		}
		i += size
	}
	return ""
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// nextToken splits s at its first dot. more is false when tok is the last token.
func nextToken(s string) (tok, rest string, more bool) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
