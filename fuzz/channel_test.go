package fuzz

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/livefold/livefold/projection"
	"github.com/livefold/livefold/pubsub"
)

// FuzzChannelToken checks the escape of keys into channel tokens: every
// valid key's token is one valid channel token that no pattern of another
// key matches, it decodes back to the key, distinct keys get distinct
// tokens, and KeyOfToken accepts only what ChannelToken produces.
func FuzzChannelToken(f *testing.F) {
	for _, seed := range [][2]string{
		{"tenant.7", "tenant.7.a"}, {"*", ">"}, {"~", "%7E"}, {"a b", "a\u00a0b"}, {"plain", "~plain"},
		{"日本", "%E6%97%A5%E6%9C%AC"}, {"100%", "100%25"}, {"A", "a"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []string{a, b} {
			// Whatever the input, decoding never panics and accepts only
			// canonical tokens.
			if k, err := projection.KeyOfToken(s); err == nil && projection.ChannelToken(k) != s {
				t.Fatalf("KeyOfToken(%q) = %q, whose token is %q", s, k, projection.ChannelToken(k))
			}
		}
		if a == "" || !utf8.ValidString(a) || b == "" || !utf8.ValidString(b) {
			return
		}
		ta, tb := projection.ChannelToken(a), projection.ChannelToken(b)
		for k, tok := range map[string]string{a: ta, b: tb} {
			if strings.Contains(tok, ".") || tok == "*" || tok == ">" {
				t.Fatalf("token %q of key %q is not one literal token", tok, k)
			}
			if err := pubsub.ValidChannel("projection.p." + tok); err != nil {
				t.Fatalf("token %q of key %q: %v", tok, k, err)
			}
			back, err := projection.KeyOfToken(tok)
			if err != nil || back != k {
				t.Fatalf("KeyOfToken(%q) = %q, %v; want %q", tok, back, err, k)
			}
		}
		if (a == b) != (ta == tb) {
			t.Fatalf("keys %q and %q have tokens %q and %q", a, b, ta, tb)
		}
	})
}
