package storetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/livefold/livefold/store"
)

func roundTripRules() []rule {
	return []rule{
		{name: "Fields", run: testRoundTripFields,
			text: "Version, Stamp, Lineage, Position and State read back as written, over their whole range"},
		{name: "UpdatedAt", run: testRoundTripUpdatedAt,
			text: "UpdatedAt reads back as the same instant to the nanosecond, in UTC, over the int64-nanosecond range, and the zero time as the zero time"},
		{name: "UpdatedAtUnixEpoch", run: testRoundTripUpdatedAtUnixEpoch,
			text: "an UpdatedAt of exactly the Unix epoch reads back as the epoch, not as the zero time"},
		{name: "States", run: testRoundTripStates,
			text: "states are opaque bytes: empty, every byte value and large states read back as written"},
	}
}

// expectRoundTrip writes every record under its own key, then reads them
// back with Get and Scan.
func (e *env) expectRoundTrip(s store.Store, what string, records []store.Record) {
	e.t.Helper()
	var writes []store.Write
	var want []store.KeyRecord
	for i, r := range records {
		key := fmt.Sprintf("%s%03d", what, i)
		writes = append(writes, create(what, key, r))
		want = append(want, kr(key, r))
	}
	e.commit(s, writes...)
	for _, w := range want {
		e.expectRecord(s, what, w.Key, w.Record)
	}
	e.expectScan(s, what, want...)
}

func testRoundTripFields(e *env) {
	s := e.open()
	var records []store.Record
	for _, n := range []uint64{1, 2, 255, 256, 1 << 32, math.MaxInt64, 1 << 63, math.MaxUint64} {
		r := rec(n, n, fmt.Sprint(n))
		r.Lineage, r.Position = n, n
		records = append(records, r)
		records = append(records, store.Record{Version: n})
		records = append(records, store.Record{Version: 1, Stamp: n, Lineage: ^n, Position: n - 1})
	}
	e.expectRoundTrip(s, "fields", records)
}

func testRoundTripUpdatedAt(e *env) {
	s := e.open()
	times := []time.Time{
		{},
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 1, time.FixedZone("IST", 5*3600+1800)),
		time.Date(2024, 2, 29, 23, 59, 59, 1, time.FixedZone("west", -11*3600)),
		time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(0, 1),
		time.Unix(0, -1),
		time.Unix(0, math.MinInt64+1), // the first is refused: see store.ValidTime
		time.Unix(0, math.MaxInt64),
		time.Now(), // with a monotonic reading and the local zone
	}
	var records []store.Record
	for i, t := range times {
		records = append(records, store.Record{Version: uint64(i + 1), UpdatedAt: t})
	}
	e.expectRoundTrip(s, "times", records)
}

func testRoundTripUpdatedAtUnixEpoch(e *env) {
	s := e.open()
	e.expectRoundTrip(s, "epoch", []store.Record{
		{Version: 1, UpdatedAt: time.Unix(0, 0)},
		{Version: 1, UpdatedAt: time.Date(1970, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))},
	})
}

func testRoundTripStates(e *env) {
	s := e.open()
	every := make([]byte, 256*2)
	for i := range every {
		every[i] = byte(i)
	}
	large := make([]byte, 4<<20)
	_, _ = rand.NewChaCha8([32]byte{5, 6}).Read(large) // never fails
	records := []store.Record{
		{Version: 1},
		{Version: 1, State: []byte{}},
		{Version: 1, State: []byte{0}},
		{Version: 1, State: every},
		{Version: 1, State: []byte("\xff\xfe not UTF-8 \x00")},
		{Version: 1, State: large},
	}
	e.expectRoundTrip(s, "states", records)
}
