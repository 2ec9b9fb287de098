package pgstore

import "strings"

// PostgreSQL text cannot hold the byte 0, which valid keys and bucket names
// may contain. Names and keys are stored with 0x00 written as 0x01 0x01 and
// 0x01 as 0x01 0x02: every other byte stands for itself. The code of each
// byte sorts like the byte and no code is a prefix of another, so the stored
// text sorts, under the C collation, exactly as the original bytes do, and
// keys without those two control characters are stored as they are, which
// keeps them easy to query with SQL.
const escapeByte = 0x01

// escape returns s as it is stored.
func escape(s string) string {
	if strings.IndexByte(s, 0) < 0 && strings.IndexByte(s, escapeByte) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0, escapeByte:
			b.WriteByte(escapeByte)
			b.WriteByte(c + 1)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescape returns the name or key stored as s, and false if s is not the
// output of escape (a row written by hand).
func unescape(s string) (string, bool) {
	if strings.IndexByte(s, escapeByte) < 0 {
		return s, strings.IndexByte(s, 0) < 0
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != escapeByte {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) || (s[i+1] != 1 && s[i+1] != 2) {
			return "", false
		}
		i++
		b.WriteByte(s[i] - 1)
	}
	return b.String(), true
}
