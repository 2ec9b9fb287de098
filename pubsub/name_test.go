package pubsub_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/livefold/livefold/pubsub"
)

func TestValidChannel_Table(t *testing.T) {
	long := strings.Repeat("a", pubsub.MaxNameLen+1)
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"projection.orders.42", true},
		{"a-b_c:d/e", true},
		{"héllo.wörld", true},
		{strings.Repeat("a", pubsub.MaxNameLen), true},
		{"", false},
		{".", false},
		{"a.", false},
		{".a", false},
		{"a..b", false},
		{"a b", false},
		{"a\tb", false},
		{"a\nb", false},
		{"a\u00a0b", false}, // no-break space
		{"a\u2003b", false}, // em space
		{"*", false},
		{">", false},
		{"a.*", false},
		{"a.>", false},
		{"a*", false},
		{"a.b>c", false},
		{long, false},
	}
	for _, tt := range tests {
		err := pubsub.ValidChannel(tt.name)
		if tt.ok && err != nil {
			t.Errorf("ValidChannel(%q) = %v; want nil", tt.name, err)
		}
		if !tt.ok {
			if !errors.Is(err, pubsub.ErrInvalidChannel) {
				t.Errorf("ValidChannel(%q) = %v; want ErrInvalidChannel", tt.name, err)
			} else if len(tt.name) < 100 && !strings.Contains(err.Error(), strconv.Quote(tt.name)) {
				t.Errorf("ValidChannel(%q) = %q; want the message to name the channel", tt.name, err)
			}
		}
	}
}

func TestValidPattern_Table(t *testing.T) {
	tests := []struct {
		pattern string
		ok      bool
	}{
		{"a", true},
		{"a.b.c", true},
		{"*", true},
		{">", true},
		{"a.*", true},
		{"*.b", true},
		{"a.*.c", true},
		{"a.>", true},
		{"*.*.>", true},
		{"", false},
		{"a..b", false},
		{"a.", false},
		{"a.>.b", false},
		{">.a", false},
		{"a*", false},
		{"a.b*", false},
		{"a.**", false},
		{"a.>>", false},
		{"a.*>", false},
		{"a b.*", false},
		{"a.\u3000", false}, // ideographic space
		{strings.Repeat("*.", pubsub.MaxNameLen/2) + ">", false},
	}
	for _, tt := range tests {
		err := pubsub.ValidPattern(tt.pattern)
		if tt.ok && err != nil {
			t.Errorf("ValidPattern(%q) = %v; want nil", tt.pattern, err)
		}
		if !tt.ok && !errors.Is(err, pubsub.ErrInvalidPattern) {
			t.Errorf("ValidPattern(%q) = %v; want ErrInvalidPattern", tt.pattern, err)
		}
	}
}

func TestPolicy_String(t *testing.T) {
	tests := map[pubsub.Policy]string{
		pubsub.DropOldest: "DropOldest",
		pubsub.DropNewest: "DropNewest",
		pubsub.Block:      "Block",
		pubsub.Disconnect: "Disconnect",
		pubsub.Policy(9):  "Policy(9)",
		pubsub.Policy(-1): "Policy(-1)",
	}
	for p, want := range tests {
		if got := p.String(); got != want {
			t.Errorf("Policy(%d).String() = %q; want %q", int(p), got, want)
		}
	}
}
