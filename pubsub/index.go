package pubsub

// index is a token trie of subscriptions, after nats-server's sublist: a
// Publish walks one path per matching branch, so its cost depends on the
// channel's tokens and the subscriptions that match, not on how many
// subscriptions exist on other channels.
//
// The index is not safe for concurrent use; Bus.mu guards it.
type index struct {
	root node
	size int // number of subscriptions in the trie
}

type node struct {
	literal map[string]*node // children for exact tokens; nil until needed
	star    *node            // child for a "*" token
	rest    *node            // leaf for a final ">" token; its subs match one or more tokens

	// subs are the subscriptions whose pattern ends at this node. The slice is
	// copy-on-write: it is replaced, never modified, so a publisher may keep
	// using a slice it read under the bus lock after releasing the lock.
	subs []subscriber
}

// subscriber is the type-erased face of a *Subscription[T] that the bus needs.
type subscriber interface {
	// end ends the subscription with err unless it has already ended.
	end(err error)
	// closeLocked closes the subscription's channel; the caller holds the
	// bus's mu exclusively.
	closeLocked()
}

// insert adds s under the valid pattern.
func (ix *index) insert(pattern string, s subscriber) {
	n := &ix.root
	for more := true; more; {
		var tok string
		tok, pattern, more = nextToken(pattern)
		n = n.child(tok)
	}
	subs := make([]subscriber, len(n.subs), len(n.subs)+1)
	copy(subs, n.subs)
	n.subs = append(subs, s)
	ix.size++
}

// child returns the child for tok, creating it.
func (n *node) child(tok string) *node {
	switch tok {
	case "*":
		if n.star == nil {
			n.star = &node{}
		}
		return n.star
	case ">":
		if n.rest == nil {
			n.rest = &node{}
		}
		return n.rest
	}
	c := n.literal[tok]
	if c == nil {
		if n.literal == nil {
			n.literal = make(map[string]*node)
		}
		c = &node{}
		n.literal[tok] = c
	}
	return c
}

// remove deletes s from under pattern and prunes nodes left empty. It reports
// whether s was found.
func (ix *index) remove(pattern string, s subscriber) bool {
	found := ix.root.remove(pattern, s)
	if found {
		ix.size--
	}
	return found
}

func (n *node) remove(pattern string, s subscriber) bool {
	tok, rest, more := nextToken(pattern)
	var c *node
	switch tok {
	case "*":
		c = n.star
	case ">":
		c = n.rest
	default:
		c = n.literal[tok]
	}
	if c == nil {
		return false
	}
	var found bool
	if more {
		found = c.remove(rest, s)
	} else {
		found = c.removeSub(s)
	}
	if found && c.empty() {
		switch tok {
		case "*":
			n.star = nil
		case ">":
			n.rest = nil
		default:
			delete(n.literal, tok)
		}
	}
	return found
}

func (n *node) removeSub(s subscriber) bool {
	for i, x := range n.subs {
		if x == s {
			if len(n.subs) == 1 {
				n.subs = nil
				return true
			}
			subs := make([]subscriber, 0, len(n.subs)-1)
			subs = append(subs, n.subs[:i]...)
			n.subs = append(subs, n.subs[i+1:]...)
			return true
		}
	}
	return false
}

func (n *node) empty() bool {
	return len(n.subs) == 0 && len(n.literal) == 0 && n.star == nil && n.rest == nil
}

// match appends to out the subscriber lists of every pattern matching the
// valid channel name subject. It appends whole lists rather than single
// subscribers so that a fan-out to many subscriptions copies nothing.
func (n *node) match(subject string, out [][]subscriber) [][]subscriber {
	tok, rest, more := nextToken(subject)
	if n.rest != nil && len(n.rest.subs) > 0 {
		out = append(out, n.rest.subs) // ">" takes tok and everything after it
	}
	if c := n.literal[tok]; c != nil {
		if more {
			out = c.match(rest, out)
		} else if len(c.subs) > 0 {
			out = append(out, c.subs)
		}
	}
	if c := n.star; c != nil {
		if more {
			out = c.match(rest, out)
		} else if len(c.subs) > 0 {
			out = append(out, c.subs)
		}
	}
	return out
}

// hasInterest reports whether any pattern matches the valid channel name subject.
func (n *node) hasInterest(subject string) bool {
	tok, rest, more := nextToken(subject)
	if n.rest != nil && len(n.rest.subs) > 0 {
		return true
	}
	for _, c := range [2]*node{n.literal[tok], n.star} {
		if c == nil {
			continue
		}
		if more {
			if c.hasInterest(rest) {
				return true
			}
		} else if len(c.subs) > 0 {
			return true
		}
	}
	return false
}

// all appends every subscriber in the trie to out.
func (n *node) all(out []subscriber) []subscriber {
	out = append(out, n.subs...)
	for _, c := range n.literal {
		out = c.all(out)
	}
	if n.star != nil {
		out = n.star.all(out)
	}
	if n.rest != nil {
		out = n.rest.all(out)
	}
	return out
}
