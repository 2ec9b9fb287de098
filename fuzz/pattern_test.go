package fuzz

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/livefold/livefold/pubsub"
)

// FuzzPatternMatch subscribes a set of patterns (one per line of the first
// input) on a Bus, publishes once on the second input as a channel, and checks
// which subscriptions received the message against refMatch, a plain
// token-by-token matcher. Invalid patterns and channels must be rejected with
// the package's errors exactly when refValid says so, and never panic.
func FuzzPatternMatch(f *testing.F) {
	f.Add("a.b.c\na.*.c\na.>\n>\n*\n*.b.*", "a.b.c")
	f.Add("projection.orders.*\nprojection.>\nprojection.orders.42", "projection.orders.42")
	f.Add("a.>.b\na*\n\na..b\n*.>", "a.b")
	f.Add("a.b", "a.*")
	f.Add("*.*", "x.y")
	f.Add(">", "a")
	f.Add("a.\u00a0", "a.b")
	f.Add("héllo.*", "héllo.wörld")

	f.Fuzz(func(t *testing.T, patternList, channel string) {
		ctx := context.Background()
		b := pubsub.New(pubsub.WithDefaultBuffer(1))
		defer b.Close()

		patterns := strings.Split(patternList, "\n")
		if len(patterns) > 32 {
			patterns = patterns[:32]
		}
		type entry struct {
			pattern string
			sub     *pubsub.Subscription[int]
		}
		var subs []entry
		for _, p := range patterns {
			s, err := pubsub.Subscribe[int](ctx, b, p)
			valid := refValid(p, true)
			if valid != (err == nil) {
				t.Fatalf("Subscribe(%q) = %v; reference says valid=%v", p, err, valid)
			}
			if err != nil {
				if !errors.Is(err, pubsub.ErrInvalidPattern) {
					t.Fatalf("Subscribe(%q) = %v; want ErrInvalidPattern", p, err)
				}
				if (pubsub.ValidPattern(p) == nil) != valid {
					t.Fatalf("ValidPattern(%q) disagrees with Subscribe", p)
				}
				continue
			}
			subs = append(subs, entry{p, s})
		}

		chValid := refValid(channel, false)
		if (pubsub.ValidChannel(channel) == nil) != chValid {
			t.Fatalf("ValidChannel(%q) = %v; reference says valid=%v", channel, pubsub.ValidChannel(channel), chValid)
		}
		n, err := pubsub.Publish(ctx, b, channel, 1)
		if !chValid {
			if !errors.Is(err, pubsub.ErrInvalidChannel) || n != 0 {
				t.Fatalf("Publish(%q) = %d, %v; want 0, ErrInvalidChannel", channel, n, err)
			}
			if pubsub.HasSubscribers(b, channel) {
				t.Fatalf("HasSubscribers(%q) = true for an invalid channel", channel)
			}
			return
		}
		if err != nil {
			t.Fatalf("Publish(%q) = %v; want nil", channel, err)
		}
		want := 0
		for _, e := range subs {
			match := refMatch(e.pattern, channel)
			if match {
				want++
			}
			var got bool
			select {
			case <-e.sub.C():
				got = true
			default:
			}
			if got != match {
				t.Errorf("pattern %q received=%v from channel %q; reference match=%v", e.pattern, got, channel, match)
			}
		}
		if n != want {
			t.Errorf("Publish(%q) delivered %d; want %d", channel, n, want)
		}
		if has := pubsub.HasSubscribers(b, channel); has != (want > 0) {
			t.Errorf("HasSubscribers(%q) = %v; want %v", channel, has, want > 0)
		}
	})
}

// refValid is the grammar written out plainly: dot-separated non-empty tokens
// without whitespace; in patterns a token may be exactly "*", or ">" if last.
func refValid(s string, pattern bool) bool {
	if s == "" || len(s) > pubsub.MaxNameLen {
		return false
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		if tok == "" || strings.IndexFunc(tok, unicode.IsSpace) >= 0 {
			return false
		}
		switch {
		case pattern && tok == "*":
		case pattern && tok == ">" && i == len(toks)-1:
		case strings.ContainsAny(tok, "*>"):
			return false
		}
	}
	return true
}

// refMatch reports whether the valid pattern matches the valid channel.
func refMatch(pattern, channel string) bool {
	pt := strings.Split(pattern, ".")
	ct := strings.Split(channel, ".")
	for i, p := range pt {
		if p == ">" {
			return len(ct) > i
		}
		if i >= len(ct) || (p != "*" && p != ct[i]) {
			return false
		}
	}
	return len(pt) == len(ct)
}
