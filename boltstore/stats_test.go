package boltstore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/livefold/livefold/store"
)

// Ensure that Var names every duration with its unit, nanoseconds, and
// reports the same values as Stats.
func TestStore_Var_DurationsCarryUnit(t *testing.T) {
	s := openStore(t)
	done := make(chan error, 1)
	w := store.Write{Bucket: "p", Key: "k", Record: store.Record{Version: 1, State: []byte{0x80}}}
	if err := s.Submit(context.Background(), []store.Write{w}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(s.Var().String()), &got); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	for name, want := range map[string]int64{
		"MeanCommitLatencyNs": int64(st.MeanCommitLatency),
		"MaxCommitLatencyNs":  int64(st.MaxCommitLatency),
		"MeanCheckpointNs":    int64(st.MeanCheckpoint),
		"MaxCheckpointNs":     int64(st.MaxCheckpoint),
	} {
		v, ok := got[name].(float64)
		if !ok || int64(v) != want {
			t.Errorf("Var()[%q] = %v; want %d", name, got[name], want)
		}
	}
	if st.MaxCommitLatency <= 0 {
		t.Errorf("MaxCommitLatency = %v after a commit; want it above 0", st.MaxCommitLatency)
	}
	for _, bare := range []string{"MeanCommitLatency", "MaxCommitLatency", "MeanCheckpoint", "MaxCheckpoint"} {
		if _, ok := got[bare]; ok {
			t.Errorf("Var() has %q, a duration without its unit", bare)
		}
	}
}
