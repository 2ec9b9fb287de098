package pgstore_test

import (
	"bytes"
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/livefold/livefold/pgstore"
	"github.com/livefold/livefold/store"
	"github.com/vmihailenco/msgpack/v5"
)

// account is a read model as a projection would keep it.
type account struct {
	Cents  int64
	Owner  string
	Tags   []string
	Opened time.Time
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatalf("msgpack.Marshal(%v) = %v", v, err)
	}
	return b
}

// Ensure that with WithJSONB read models can be queried with SQL through
// state_json, while Get returns the msgpack bytes exactly as written.
func TestStore_WithJSONB_QueryableWithSQL(t *testing.T) {
	admin := adminPool(t)
	s := openStore(t, pgURL(t), pgstore.WithJSONB(), pgstore.WithTable(newTable(t, admin)))
	opened := time.Date(2024, 2, 29, 12, 30, 0, 5, time.UTC)
	accounts := map[string]account{
		"acct-1": {Cents: 1500, Owner: "ana", Tags: []string{"gold", "eu"}, Opened: opened},
		"acct-2": {Cents: 200, Owner: "bo", Opened: opened},
		"acct-3": {Cents: 99000, Owner: "cy", Tags: []string{}, Opened: opened},
	}
	states := map[string][]byte{}
	var writes []store.Write
	for key, a := range accounts {
		states[key] = mustMarshal(t, a)
		writes = append(writes, create("accounts", key, store.Record{Version: 1, State: states[key]}))
	}
	commit(t, s, writes...)

	ctx := context.Background()
	table := pgx.Identifier{s.Table()}.Sanitize()
	rows, err := admin.Query(ctx, "SELECT key FROM "+table+
		" WHERE projection = 'accounts' AND (state_json->>'Cents')::bigint > 1000 ORDER BY key")
	if err != nil {
		t.Fatalf("query by Cents: %v", err)
	}
	rich, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || !slices.Equal(rich, []string{"acct-1", "acct-3"}) {
		t.Errorf("accounts with more than 1000 cents = %q, %v; want [acct-1 acct-3]", rich, err)
	}
	var owner, tag, when string
	err = admin.QueryRow(ctx, "SELECT state_json->>'Owner', state_json->'Tags'->>1, state_json->>'Opened' FROM "+table+
		" WHERE projection = 'accounts' AND key = 'acct-1'").Scan(&owner, &tag, &when)
	if err != nil || owner != "ana" || tag != "eu" || when != "2024-02-29T12:30:00.000000005Z" {
		t.Errorf("Owner, Tags[1], Opened of acct-1 = %q, %q, %q, %v; want ana, eu, 2024-02-29T12:30:00.000000005Z",
			owner, tag, when, err)
	}

	for key, want := range states {
		got, ok, err := s.Get(ctx, "accounts", key)
		if err != nil || !ok || !bytes.Equal(got.State, want) {
			t.Errorf("Get(accounts, %s) = %x, %v, %v; want the bytes written, %x", key, got.State, ok, err, want)
		}
	}
}

// Ensure that the JSON view shows what the package documentation says for
// each kind of msgpack value, and is NULL for states without one.
func TestStore_WithJSONB_View(t *testing.T) {
	admin := adminPool(t)
	s := openStore(t, pgURL(t), pgstore.WithJSONB(), pgstore.WithTable(newTable(t, admin)))
	nested := func(depth int) []byte {
		b := bytes.Repeat([]byte{0x91}, depth) // arrays of one element
		return append(b, 0x01)
	}
	cases := []struct {
		name  string
		state []byte
		want  string // the view, as jsonb; "" for NULL
	}{
		{"Nil", mustMarshal(t, nil), `null`},
		{"Bool", mustMarshal(t, true), `true`},
		{"FixInt", mustMarshal(t, 7), `7`},
		{"NegativeInt", mustMarshal(t, -200), `-200`},
		{"MinInt64", mustMarshal(t, int64(math.MinInt64)), `-9223372036854775808`},
		{"MaxUint64", mustMarshal(t, uint64(math.MaxUint64)), `18446744073709551615`},
		{"Float64", mustMarshal(t, 1.5), `1.5`},
		{"Float32", mustMarshal(t, float32(0.1)), `0.1`},
		{"LargeFloat", mustMarshal(t, 1e300), `1e300`},
		{"String", mustMarshal(t, "é \"q\" \\ \n\t\x01"), `"é \"q\" \\ \n\t\u0001"`},
		{"StringWithNUL", mustMarshal(t, "a\x00b"), `"a\ufffdb"`},
		{"StringNotUTF8", mustMarshal(t, "a\xffb"), `"a\ufffdb"`},
		{"Binary", mustMarshal(t, []byte{1, 2, 3}), `"AQID"`},
		{"Time", mustMarshal(t, time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))), `"2024-01-02T02:04:05.000000006Z"`},
		{"Array", mustMarshal(t, []any{1, "x", nil, []int{}}), `[1, "x", null, []]`},
		{"Map", mustMarshal(t, map[string]any{"a": map[string]int{"b": 1}, "": false}), `{"a": {"b": 1}, "": false}`},
		{"IntegerKeys", mustMarshal(t, map[int]string{1: "a", -2: "b"}), `{"1": "a", "-2": "b"}`},
		{"Struct", mustMarshal(t, account{Cents: 5, Owner: "o"}), `{"Cents": 5, "Owner": "o", "Tags": null, "Opened": "0001-01-01T00:00:00Z"}`},
		{"Deep", nested(100), strings.Repeat("[", 100) + "1" + strings.Repeat("]", 100)},

		{"Empty", []byte{}, ""},
		{"NotOneValue", []byte("one"), ""},
		{"Truncated", mustMarshal(t, "truncated")[:4], ""},
		{"Reserved", []byte{0xc1}, ""},
		{"LyingLength", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, ""},
		{"NaN", mustMarshal(t, math.NaN()), ""},
		{"Infinity", mustMarshal(t, math.Inf(-1)), ""},
		{"BoolKeys", mustMarshal(t, map[bool]int{true: 1}), ""},
		{"OtherExtension", []byte{0xd4, 0x05, 0x00}, ""},
		{"TooDeep", nested(101), ""},
	}
	var writes []store.Write
	for _, c := range cases {
		writes = append(writes, create("views", c.name, store.Record{Version: 1, State: c.state}))
	}
	commit(t, s, writes...)
	ctx := context.Background()
	table := pgx.Identifier{s.Table()}.Sanitize()
	for _, c := range cases {
		var isNull, equal bool
		var view *string
		err := admin.QueryRow(ctx, "SELECT state_json IS NULL, coalesce(state_json = $2::jsonb, false), state_json::text FROM "+table+
			" WHERE projection = 'views' AND key = $1", c.name, cmp.Or(c.want, "null")).Scan(&isNull, &equal, &view)
		switch {
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && !isNull:
			t.Errorf("%s: state_json = %s; want NULL", c.name, *view)
		case c.want != "" && !equal:
			t.Errorf("%s: state_json = %v; want %s", c.name, deref(view), c.want)
		}
		got, ok, err := s.Get(ctx, "views", c.name)
		if err != nil || !ok || !bytes.Equal(got.State, c.state) {
			t.Errorf("%s: Get = %x, %v, %v; want the bytes written, %x", c.name, got.State, ok, err, c.state)
		}
	}
}

// Ensure that without WithJSONB, and for a delete, the store writes no
// view.
func TestStore_WithoutJSONB_NoView(t *testing.T) {
	admin := adminPool(t)
	s := openStore(t, pgURL(t), pgstore.WithTable(newTable(t, admin)))
	commit(t, s, create("b", "k", store.Record{Version: 1, State: mustMarshal(t, map[string]int{"a": 1})}))
	var isNull bool
	err := admin.QueryRow(context.Background(), "SELECT state_json IS NULL FROM "+pgx.Identifier{s.Table()}.Sanitize()).Scan(&isNull)
	if err != nil || !isNull {
		t.Errorf("state_json IS NULL = %v, %v; want true", isNull, err)
	}
}

// Ensure that the table reads naturally with SQL: names and keys as text
// (the two lowest control characters escaped, in the same order), uint64
// fields as the bigint of the same bits, UpdatedAt in nanoseconds and, to
// the microsecond, as a timestamptz that is NULL for the zero time.
func TestStore_Table_ReadableWithSQL(t *testing.T) {
	admin := adminPool(t)
	s := openStore(t, pgURL(t), pgstore.WithTable(newTable(t, admin)))
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	commit(t, s,
		create("p", "plain", store.Record{Version: math.MaxUint64, Stamp: 1 << 63, Lineage: 5, Position: 6, UpdatedAt: at}),
		create("p", "a\x00b\x01", store.Record{Version: 1}),
		create("p\x00", "k", store.Record{Version: 1}))
	ctx := context.Background()
	table := pgx.Identifier{s.Table()}.Sanitize()
	var (
		version, stamp, ns int64
		updated            time.Time
	)
	err := admin.QueryRow(ctx, "SELECT version, stamp, updated_at_ns, updated_at FROM "+table+
		" WHERE projection = 'p' AND key = 'plain'").Scan(&version, &stamp, &ns, &updated)
	if err != nil || version != -1 || stamp != math.MinInt64 || ns != at.UnixNano() || !updated.Equal(at.Truncate(time.Microsecond)) {
		t.Errorf("version, stamp, updated_at_ns, updated_at = %d, %d, %d, %v, %v; want -1, %d, %d, %v",
			version, stamp, ns, updated, err, int64(math.MinInt64), at.UnixNano(), at.Truncate(time.Microsecond))
	}
	var zeroIsNull bool
	if err := admin.QueryRow(ctx, "SELECT updated_at IS NULL FROM "+table+
		" WHERE projection = 'p' AND key = $1", "a\x01\x01b\x01\x02").Scan(&zeroIsNull); err != nil || !zeroIsNull {
		t.Errorf("updated_at IS NULL for the zero time, key stored escaped = %v, %v; want true", zeroIsNull, err)
	}
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE projection = $1", "p\x01\x01").Scan(&n); err != nil || n != 1 {
		t.Errorf("records of the bucket stored escaped = %d, %v; want 1", n, err)
	}
}

func deref(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}
