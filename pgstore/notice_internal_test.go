package pgstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Ensure that a notice of any writes reads back as those writes, in order,
// through payloads that PostgreSQL accepts (valid UTF-8 shorter than 8000
// bytes, with no byte 0), and that parsing any payload never panics.
func FuzzNotice(f *testing.F) {
	f.Add("b", "k", uint64(1), uint64(2), "b2", strings.Repeat("é", 300), 40)
	f.Add("b", "3:abc\n1 2\n", uint64(0), uint64(0), "b", "0:", 1)
	f.Add("proj", "\x00\x01", uint64(1<<63), uint64(1<<64-1), "p", strings.Repeat("k", 1000), 9)
	f.Fuzz(func(t *testing.T, bucket1, key1 string, lineage, version uint64, bucket2, key2 string, repeat int) {
		for _, s := range []string{bucket1, key1, bucket2, key2} {
			if s == "" || !utf8.ValidString(s) {
				t.Skip()
			}
		}
		if repeat < 1 || repeat > 40 {
			t.Skip()
		}
		var w noticeWriter
		var want []noticeEntry
		for i := range repeat {
			e := noticeEntry{escape(bucket1), escape(key1), lineage, version + uint64(i)}
			if i%2 == 1 {
				e.bucket, e.key = escape(bucket2), escape(key2)
			}
			w.add(e.bucket, e.key, e.lineage, e.version)
			want = append(want, e)
		}
		var asm []string
		for i, p := range w.payloads(7, 9) {
			if len(p) >= 8000 || !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
				t.Fatalf("payload %d is not one PostgreSQL accepts: %d bytes, valid UTF-8 %v", i, len(p), utf8.ValidString(p))
			}
			part, err := parsePart(p)
			if err != nil || part.store != 7 || part.seq != 9 || part.part != i {
				t.Fatalf("parsePart(payload %d) = %+v, %v", i, part, err)
			}
			asm = append(asm, part.body)
		}
		var got []noticeEntry
		everything, err := parseBody(strings.Join(asm, ""), func(e noticeEntry) { got = append(got, e) })
		switch {
		case err != nil:
			t.Fatalf("parseBody = %v", err)
		case everything:
			if w.b.Len() <= maxNoticeBytes {
				t.Fatalf("a notice of %d bytes says everything", w.b.Len())
			}
		case len(got) != len(want):
			t.Fatalf("parseBody found %d entries; want %d", len(got), len(want))
		default:
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("entry %d = %+v; want %+v", i, got[i], want[i])
				}
			}
		}
		// Arbitrary text must not make the receiver panic.
		for _, p := range []string{key1, bucket1 + "\n" + key2, noticeMagic + " 1 2 0/1\n" + key1} {
			if part, err := parsePart(p); err == nil {
				_, _ = parseBody(part.body, func(noticeEntry) {})
			}
			_, _ = parseBody(p, func(noticeEntry) {})
		}
	})
}
