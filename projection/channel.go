package projection

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/livefold/livefold/store"
)

// escapeMark begins the channel token of a key that is not plain; a plain
// key never contains it, so the two kinds of tokens never meet.
const escapeMark = '~'

// ValidKey reports why key cannot be used, or nil: a key is any non-empty,
// valid UTF-8 string of at most MaxKeyLen bytes. The error wraps
// ErrInvalidKey.
func ValidKey(key string) error {
	if err := store.CheckKey(key); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return nil
}

// ChannelToken returns the token that stands for key in its channel name,
// "projection.{name}.{token}". A plain key, made only of ASCII letters,
// digits, '-' and '_', is its own token. Any other key becomes '~' followed
// by the key with every byte that could not stand in a channel token, or
// could be confused with an escape ('.', '*', '>', '%', '~', any other ASCII
// byte but letters, digits, '-' and '_', and the bytes of Unicode white
// space), written as '%' and two upper-case hex digits; other non-ASCII
// letters stay as they are. The mapping is one to one, so distinct keys never
// share a channel, and a token never contains '.', so a subscriber of one key
// never matches another's channel. KeyOfToken reverses it.
func ChannelToken(key string) string {
	if plainKey(key) {
		return key
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key) + len(key)/2 + 1)
	b.WriteByte(escapeMark)
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			if plainByte(c) {
				b.WriteByte(c)
			} else {
				b.WriteByte('%')
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(key[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) {
			for j := i; j < i+size; j++ {
				b.WriteByte('%')
				b.WriteByte(hex[key[j]>>4])
				b.WriteByte(hex[key[j]&15])
			}
		} else {
			b.WriteString(key[i : i+size])
		}
		i += size
	}
	return b.String()
}

// KeyOfToken returns the key whose channel token is token, the inverse of
// ChannelToken. It returns an error wrapping ErrInvalidKey for a token that
// ChannelToken does not produce.
func KeyOfToken(token string) (string, error) {
	if plainKey(token) {
		return token, nil
	}
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: channel token %q: %s", ErrInvalidKey, store.QuoteKey(token), why)
	}
	if len(token) < 2 || token[0] != escapeMark {
		return bad("neither a plain key nor an escape")
	}
	var b strings.Builder
	b.Grow(len(token))
	for i := 1; i < len(token); {
		c := token[i]
		switch {
		case c == '%':
			if i+2 >= len(token) {
				return bad("truncated escape")
			}
			hi, lo := unhex(token[i+1]), unhex(token[i+2])
			if hi < 0 || lo < 0 {
				return bad("malformed escape")
			}
			b.WriteByte(byte(hi<<4 | lo))
			i += 3
		case c < utf8.RuneSelf && !plainByte(c):
			return bad(fmt.Sprintf("byte %q must be escaped", c))
		default:
			b.WriteByte(c)
			i++
		}
	}
	key := b.String()
	if ChannelToken(key) != token {
		return bad("not the escape of any key")
	}
	return key, nil
}

// plainKey reports whether key is non-empty and made only of bytes that
// stand for themselves.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		if !plainByte(key[i]) {
			return false
		}
	}
	return true
}

func plainByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// unhex returns the value of an upper-case hex digit, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
