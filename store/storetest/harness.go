package storetest

import (
	"testing"

	"github.com/livefold/livefold/store"
)

// Harness tells Run how to get stores of the implementation under test. Only
// Open is required; a rule that needs an absent hook is skipped, naming it.
// The suite closes every store a hook returns when the rule ends.
type Harness struct {
	// Open returns a new, empty store, or fails t. Each rule opens its own,
	// so stores must not share data.
	Open func(t *testing.T) store.Store

	// Reopen returns a new handle on the data of s, which the suite has
	// closed: what a process that starts again would open. Without it the
	// rule that Close keeps every accepted request (Close/KeepsAccepted) is
	// skipped; Close/DrainsAccepted still checks their outcomes.
	Reopen func(t *testing.T, s store.Store) store.Store

	// Damage changes the stored bytes of the record at bucket and key, which
	// exists and was written through s, so that the store's verification
	// fails for it and for no other record; it returns the handle to use
	// from then on (s, or a new one if damaging needed s closed). For bbolt:
	// close the store, rewrite the value in the file with bbolt directly,
	// reopen. Without it the rules about damaged records are skipped.
	Damage func(t *testing.T, s store.Store, bucket, key string) store.Store

	// Second returns another handle that writes the same data as s, as a
	// second process or connection pool would: s itself when the store has
	// one writer per process. Without it the rule that two writers lose no
	// update is skipped.
	Second func(t *testing.T, s store.Store) store.Store
}

// hook names a Harness hook a rule needs.
type hook int

const (
	needReopen hook = iota + 1
	needDamage
	needSecond
)

// rule is one subtest of the suite.
type rule struct {
	name  string
	text  string // the rule, as the failure message states it
	needs hook
	run   func(e *env)
}

// group is a topic's rules, run as subtests of one subtest.
type group struct {
	name  string
	rules []rule
}

// Run checks every rule of the store contract against the stores h opens,
// each rule as a subtest of t (named Group/Rule), one after the other, each
// with a store of its own. See the package documentation.
func Run(t *testing.T, h Harness) {
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is nil")
	}
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, r := range g.rules {
				t.Run(r.name, func(t *testing.T) { runRule(t, h, g.name+"/"+r.name, r) })
			}
		})
	}
}

func runRule(t *testing.T, h Harness, name string, r rule) {
	switch {
	case r.needs == needReopen && h.Reopen == nil:
		t.Skip("storetest: needs Harness.Reopen")
	case r.needs == needDamage && h.Damage == nil:
		t.Skip("storetest: needs Harness.Damage")
	case r.needs == needSecond && h.Second == nil:
		t.Skip("storetest: needs Harness.Second")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("storetest: the rule broken: %s", r.text)
		}
	})
	r.run(newEnv(t, h))
}

// groups lists every rule of the suite, in the order they run.
func groups() []group {
	return []group{
		{"Submit", submitRules()},
		{"Expect", expectRules()},
		{"Conflict", conflictRules()},
		{"ReadYourWrites", readYourWritesRules()},
		{"Force", forceRules()},
		{"Damage", damageRules()},
		{"Scan", scanRules()},
		{"Validation", validationRules()},
		{"RoundTrip", roundTripRules()},
		{"Close", closeRules()},
		{"Stress", stressRules()},
		{"Changes", changesRules()},
	}
}
