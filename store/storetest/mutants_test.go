package storetest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livefold/livefold/store"
	"github.com/livefold/livefold/store/storetest"
)

// A mutant is a store with one deliberate defect, and the rule of the suite
// that must catch it. TestRun_Mutant_FailsItsRule runs each under Run in a
// child process, since a failing Run fails the test that runs it.
type mutant struct {
	name string
	rule string // Group/Rule
	wrap func(store.Store) store.Store
}

type submitFunc struct {
	wrapper
	submit func(s store.Store, ctx context.Context, writes []store.Write, done func(error)) error
}

func (m submitFunc) Submit(ctx context.Context, writes []store.Write, done func(error)) error {
	return m.submit(m.Store, ctx, writes, done)
}

type getFunc struct {
	wrapper
	get func(s store.Store, ctx context.Context, bucket, key string) (store.Record, bool, error)
}

func (m getFunc) Get(ctx context.Context, bucket, key string) (store.Record, bool, error) {
	return m.get(m.Store, ctx, bucket, key)
}

type scanFunc struct {
	wrapper
	scan func(s store.Store, ctx context.Context, bucket string) iter.Seq2[store.KeyRecord, error]
}

func (m scanFunc) Scan(ctx context.Context, bucket string) iter.Seq2[store.KeyRecord, error] {
	return m.scan(m.Store, ctx, bucket)
}

type keysFunc struct {
	wrapper
	keys func(s store.Store, ctx context.Context, bucket string) iter.Seq2[string, error]
}

func (m keysFunc) Keys(ctx context.Context, bucket string) iter.Seq2[string, error] {
	return m.keys(m.Store, ctx, bucket)
}

type neverClosed struct{ wrapper }

func (neverClosed) Closed() bool { return false }

func mutants() []mutant {
	return []mutant{
		{"DoneTwice", "Submit/DoneOnceInOrder", func(s store.Store) store.Store {
			return submitFunc{wrapper{s}, func(s store.Store, ctx context.Context, writes []store.Write, done func(error)) error {
				return s.Submit(ctx, writes, func(err error) { done(err); done(err) })
			}}
		}},
		{"IgnoresStamp", "Expect/WrongStamp", func(s store.Store) store.Store {
			return submitFunc{wrapper{s}, func(s store.Store, ctx context.Context, writes []store.Write, done func(error)) error {
				writes = slices.Clone(writes)
				for i := range writes {
					if r, ok, err := s.Get(ctx, writes[i].Bucket, writes[i].Key); err == nil && ok && r.Version == writes[i].Expect {
						writes[i].ExpectStamp = r.Stamp
					}
				}
				return s.Submit(ctx, writes, done)
			}}
		}},
		{"BareConflict", "Expect/WrongVersion", func(s store.Store) store.Store {
			return submitFunc{wrapper{s}, func(s store.Store, ctx context.Context, writes []store.Write, done func(error)) error {
				return s.Submit(ctx, writes, func(err error) {
					if errors.Is(err, store.ErrConflict) {
						err = fmt.Errorf("mutant: %w", store.ErrConflict)
					}
					done(err)
				})
			}}
		}},
		{"SplitsRequests", "Conflict/Atomic", func(s store.Store) store.Store {
			return submitFunc{wrapper{s}, func(s store.Store, ctx context.Context, writes []store.Write, done func(error)) error {
				if len(writes) < 2 {
					return s.Submit(ctx, writes, done)
				}
				if _, err := store.CheckWrites(writes); err != nil {
					return err
				}
				var mu sync.Mutex
				var first error
				for i := range writes {
					last := i == len(writes)-1
					err := s.Submit(ctx, writes[i:i+1], func(err error) {
						mu.Lock()
						first = cmpErr(first, err)
						out := first
						mu.Unlock()
						if last && done != nil {
							done(out)
						}
					})
					if err != nil {
						return err
					}
				}
				return nil
			}}
		}},
		{"AcceptsEmptyKeys", "Validation/Refused", func(s store.Store) store.Store {
			return submitFunc{wrapper{s}, func(s store.Store, ctx context.Context, writes []store.Write, done func(error)) error {
				for _, w := range writes {
					if w.Key == "" {
						return s.Submit(ctx, nil, done)
					}
				}
				return s.Submit(ctx, writes, done)
			}}
		}},
		{"SharesStates", "Scan/CallerOwnsStates", func(s store.Store) store.Store {
			var mu sync.Mutex
			cache := map[string][]byte{}
			return getFunc{wrapper{s}, func(s store.Store, ctx context.Context, bucket, key string) (store.Record, bool, error) {
				r, ok, err := s.Get(ctx, bucket, key)
				if err != nil || !ok {
					return r, ok, err
				}
				id := fmt.Sprintf("%s/%s/%d/%d", bucket, key, r.Version, r.Stamp)
				mu.Lock()
				defer mu.Unlock()
				if c, ok := cache[id]; ok {
					r.State = c
				} else {
					cache[id] = r.State
				}
				return r, true, nil
			}}
		}},
		{"LocalTime", "RoundTrip/UpdatedAt", func(s store.Store) store.Store {
			return getFunc{wrapper{s}, func(s store.Store, ctx context.Context, bucket, key string) (store.Record, bool, error) {
				r, ok, err := s.Get(ctx, bucket, key)
				if !r.UpdatedAt.IsZero() {
					r.UpdatedAt = r.UpdatedAt.In(time.FixedZone("mutant", 3600))
				}
				return r, ok, err
			}}
		}},
		{"DropsLineage", "RoundTrip/Fields", func(s store.Store) store.Store {
			return getFunc{wrapper{s}, func(s store.Store, ctx context.Context, bucket, key string) (store.Record, bool, error) {
				r, ok, err := s.Get(ctx, bucket, key)
				r.Lineage = 0
				return r, ok, err
			}}
		}},
		{"ReverseScan", "Scan/KeyOrder", func(s store.Store) store.Store {
			return scanFunc{wrapper{s}, func(s store.Store, ctx context.Context, bucket string) iter.Seq2[store.KeyRecord, error] {
				return func(yield func(store.KeyRecord, error) bool) {
					type el struct {
						kr  store.KeyRecord
						err error
					}
					var all []el
					for kr, err := range s.Scan(ctx, bucket) {
						all = append(all, el{kr, err})
					}
					for _, e := range slices.Backward(all) {
						if !yield(e.kr, e.err) {
							return
						}
					}
				}
			}}
		}},
		{"ScanIgnoresContext", "Scan/CancelledContext", func(s store.Store) store.Store {
			return scanFunc{wrapper{s}, func(s store.Store, _ context.Context, bucket string) iter.Seq2[store.KeyRecord, error] {
				return s.Scan(context.Background(), bucket)
			}}
		}},
		{"KeysSkipDamaged", "Damage/Keys", func(s store.Store) store.Store {
			return keysFunc{wrapper{s}, func(s store.Store, ctx context.Context, bucket string) iter.Seq2[string, error] {
				return func(yield func(string, error) bool) {
					for kr, err := range s.Scan(ctx, bucket) {
						if errors.Is(err, store.ErrCorrupt) {
							continue
						}
						if !yield(kr.Key, err) {
							return
						}
					}
				}
			}}
		}},
		{"NeverClosed", "Close/CallsAfterClose", func(s store.Store) store.Store {
			return neverClosed{wrapper{s}}
		}},
	}
}

// cmpErr returns the first non-nil of a and b.
func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// mutantEnv names, in a child process, the mutant TestMutant runs.
const mutantEnv = "STORETEST_MUTANT"

// TestMutant runs the suite against the mutant named by $STORETEST_MUTANT;
// it is a child of TestRun_Mutant_FailsItsRule and skips otherwise.
func TestMutant(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("runs only as a child of TestRun_Mutant_FailsItsRule")
	}
	for _, m := range mutants() {
		if m.name == name {
			t.Run(m.name, func(t *testing.T) { storetest.Run(t, boltHarness(m.wrap)) })
			return
		}
	}
	t.Fatalf("no mutant %q", name)
}

// Ensure that the suite catches each mutant's defect, with the rule written
// for it: the suite's rules can fail.
func TestRun_Mutant_FailsItsRule(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("in a child process")
	}
	for _, m := range mutants() {
		t.Run(m.name, func(t *testing.T) {
			group, rule, _ := strings.Cut(m.rule, "/")
			cmd := exec.CommandContext(t.Context(), os.Args[0],
				"-test.run", fmt.Sprintf("^TestMutant$/^%s$/^%s$/^%s$", m.name, group, rule),
				"-test.count", "1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+m.name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("child = %v; want it to fail\n%s", err, out)
			}
			want := fmt.Sprintf("--- FAIL: TestMutant/%s/%s", m.name, m.rule)
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("child output lacks %q:\n%s", want, out)
			}
		})
	}
}
