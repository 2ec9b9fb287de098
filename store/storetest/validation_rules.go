package storetest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/livefold/livefold/store"
)

func validationRules() []rule {
	return []rule{
		{name: "Refused", run: testValidationRefused,
			text: "every request store.CheckWrites refuses, Submit refuses synchronously with an error satisfying errors.Is with the same sentinel; done is never called and nothing is written"},
		{name: "Limits", run: testValidationLimits,
			text: "keys of store.MaxKeyLen bytes and bucket names of store.MaxNameLen bytes are accepted and round-trip"},
		{name: "AnyUTF8", run: testValidationAnyUTF8,
			text: "keys and bucket names of any valid UTF-8, punctuation and non-Latin scripts included, are accepted and round-trip"},
		{name: "Reads", run: testValidationReads,
			text: "Get refuses an invalid bucket name or key, and Scan and Keys an invalid bucket name, with store.ErrInvalidName or store.ErrInvalidKey"},
	}
}

// invalidRequest is a request CheckWrites refuses, and the sentinel it
// refuses it with.
type invalidRequest struct {
	name   string
	writes []store.Write
	want   error
}

func invalidRequests() []invalidRequest {
	ok := rec(1, 1, "ok")
	put := func(bucket, key string) store.Write { return create(bucket, key, ok) }
	withRecord := func(r store.Record) []store.Write {
		return []store.Write{create("b", "k", r)}
	}
	bad := []invalidRequest{
		{"EmptyBucket", []store.Write{put("", "k")}, store.ErrInvalidName},
		{"LongBucket", []store.Write{put(strings.Repeat("b", store.MaxNameLen+1), "k")}, store.ErrInvalidName},
		{"BucketNotUTF8", []store.Write{put("b\xff", "k")}, store.ErrInvalidName},
		{"EmptyKey", []store.Write{put("b", "")}, store.ErrInvalidKey},
		{"LongKey", []store.Write{put("b", strings.Repeat("k", store.MaxKeyLen+1))}, store.ErrInvalidKey},
		{"KeyNotUTF8", []store.Write{put("b", "k\xc3\x28")}, store.ErrInvalidKey},
		{"KeySurrogate", []store.Write{put("b", "k\xed\xa0\x80")}, store.ErrInvalidKey},
		{"DeleteKeyNotUTF8", []store.Write{{Bucket: "b", Key: "\xff", Delete: true}}, store.ErrInvalidKey},
		{"ForcedEmptyKey", []store.Write{{Bucket: "b", Force: true, Record: ok}}, store.ErrInvalidKey},
		{"Version0", withRecord(store.Record{State: []byte("v0")}), store.ErrInvalidRecord},
		{"UpdatedAtAfterRange", withRecord(store.Record{Version: 1, UpdatedAt: time.Unix(0, math.MaxInt64).Add(time.Nanosecond)}), store.ErrInvalidRecord},
		{"UpdatedAtBeforeRange", withRecord(store.Record{Version: 1, UpdatedAt: time.Unix(0, math.MinInt64).Add(-time.Nanosecond)}), store.ErrInvalidRecord},
		{"Duplicate", []store.Write{put("b", "k"), put("b", "k")}, store.ErrDuplicateWrite},
		{"DuplicatePutDelete", []store.Write{put("b", "k"), {Bucket: "b", Key: "k", Delete: true}}, store.ErrDuplicateWrite},
		{"ValidThenInvalid", []store.Write{put("b", "k"), put("b", "")}, store.ErrInvalidKey},
	}
	// Long requests are checked another way than short ones.
	var long []store.Write
	for i := range 40 {
		long = append(long, put("b", fmt.Sprintf("k%02d", 39-i)))
	}
	long = append(long, put("b", "k17"))
	bad = append(bad, invalidRequest{"DuplicateInLongRequest", long, store.ErrDuplicateWrite})
	// Larger than MaxRequestBytes, from one shared state.
	huge := make([]byte, 16<<20)
	var big []store.Write
	for i := range store.MaxRequestBytes/len(huge) + 1 {
		big = append(big, create("b", fmt.Sprintf("big%03d", i), store.Record{Version: 1, State: huge}))
	}
	bad = append(bad, invalidRequest{"TooLarge", big, store.ErrInvalidRecord})
	return bad
}

func testValidationRefused(e *env) {
	s := e.open()
	for _, r := range invalidRequests() {
		if _, err := store.CheckWrites(r.writes); !errors.Is(err, r.want) {
			e.t.Fatalf("%s: store.CheckWrites = %v; want %v (the suite is out of date)", r.name, err, r.want)
		}
		c, err := e.trySubmit(s, r.writes...)
		if !errors.Is(err, r.want) {
			e.t.Errorf("%s: Submit(%s) = %v; want an error satisfying errors.Is(%v)", r.name, c.what, err, r.want)
		}
	}
	e.barrier(s)
	e.expectScan(s, "b")
}

func testValidationLimits(e *env) {
	s := e.open()
	bucket := strings.Repeat("n", store.MaxNameLen)
	key := strings.Repeat("k", store.MaxKeyLen)
	// Multi-byte characters up to the limit, not beyond: the limits are in
	// bytes.
	runes := strings.Repeat("日", store.MaxKeyLen/3)
	r := rec(1, 1, "at the limits")
	e.commit(s, create(bucket, key, r), create(bucket, runes, r), create("b", key, r))
	e.expectRecord(s, bucket, key, r)
	e.expectRecord(s, bucket, runes, r)
	e.expectScan(s, bucket, kr(key, r), kr(runes, r))
	e.expectScan(s, "b", kr(key, r))
	e.commit(s, remove(bucket, key, r))
	e.expectScan(s, bucket, kr(runes, r))
}

func testValidationAnyUTF8(e *env) {
	s := e.open()
	names := []string{"a.b", "x y", "*", ">", "/:@%", "日本", "a\x00b", "\t\n", "🙂", " ", ".", "..", "-", "'", `"`, `\`, "%s", "?", "#", "$1", "\x01"}
	for i, bucket := range names {
		var want []store.KeyRecord
		var writes []store.Write
		for j, key := range names {
			r := rec(1, uint64(i*100+j), bucket+"|"+key)
			writes = append(writes, create(bucket, key, r))
			want = append(want, kr(key, r))
		}
		e.commit(s, writes...)
		for _, w := range want {
			e.expectRecord(s, bucket, w.Key, w.Record)
		}
		sortKeyRecords(want)
		e.expectScan(s, bucket, want...)
	}
}

func testValidationReads(e *env) {
	s := e.open()
	e.commit(s, create("b", "k", rec(1, 1, "x")))
	gets := []struct {
		bucket, key string
		want        error
	}{
		{"", "k", store.ErrInvalidName},
		{"b\xff", "k", store.ErrInvalidName},
		{strings.Repeat("b", store.MaxNameLen+1), "k", store.ErrInvalidName},
		{"b", "", store.ErrInvalidKey},
		{"b", "\xff", store.ErrInvalidKey},
		{"b", strings.Repeat("k", store.MaxKeyLen+1), store.ErrInvalidKey},
	}
	for _, g := range gets {
		if _, _, err := s.Get(e.ctx, g.bucket, g.key); !errors.Is(err, g.want) {
			e.t.Errorf("Get(%q, %q) = %v; want an error satisfying errors.Is(%v)", store.QuoteKey(g.bucket), store.QuoteKey(g.key), err, g.want)
		}
	}
	scan, keys := e.supports(s)
	for _, bucket := range []string{"", "b\xff", strings.Repeat("b", store.MaxNameLen+1)} {
		for _, walk := range []struct {
			name      string
			supported bool
			items     []item
		}{{"Scan", scan, e.scan(s, bucket)}, {"Keys", keys, e.keys(s, bucket)}} {
			its := walk.items
			if walk.supported && (len(its) != 1 || !errors.Is(its[0].err, store.ErrInvalidName)) {
				e.t.Errorf("%s(%q) yielded %+v; want one element with an error satisfying errors.Is(store.ErrInvalidName)", walk.name, store.QuoteKey(bucket), its)
			}
		}
	}
}
