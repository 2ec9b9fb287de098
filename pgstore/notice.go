package pgstore

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A notice announces one transaction's writes to the Stores listening on
// the table's channel. It is sent as NOTIFY payloads within the
// transaction, so PostgreSQL delivers it only if the transaction commits,
// in commit order, and the payloads of one transaction contiguously and in
// the order they were sent. A payload is a header line and a part of the
// body:
//
//	lf1 <store id> <sequence> <part>/<parts>\n<body part>
//
// with the store id and sequence in hexadecimal. The body, cut into parts at
// character boundaries when it does not fit in one payload, lists the
// writes in commit order, each as
//
//	<length>:<bucket><length>:<key><lineage> <version>\n
//
// with names and keys as stored (see escape: they hold no byte 0), lengths
// in bytes, numbers in decimal, an empty bucket standing for the previous
// entry's, and lineage and version 0 for a delete. States are never sent:
// a receiver reads the record if it needs it. A body above maxNoticeBytes
// is replaced by noticeEverything, which tells receivers that every key may
// have changed, so that a bulk write costs one payload, not thousands.
const (
	noticeMagic = "lf1"
	// maxPayload is the longest payload PostgreSQL accepts in its default
	// build: shorter than 8000 bytes.
	maxPayload = 7999
	// maxHeader bounds a header: the magic, two 16-digit numbers, two
	// decimal part counters and the separators.
	maxHeader = 64
	// maxNoticeBytes bounds a notice's body: 33 payloads.
	maxNoticeBytes = 256 << 10
	// noticeEverything is the body of a notice too large to send.
	noticeEverything = "*"
)

// errNotice is the fault of a payload that is not a well-formed notice.
var errNotice = errors.New("pgstore: malformed notice")

// noticeWriter builds the body of one transaction's notice.
type noticeWriter struct {
	b          strings.Builder
	lastBucket string
	n          int // entries written
}

// add appends one write; bucket and key are as stored.
func (w *noticeWriter) add(bucket, key string, lineage, version uint64) {
	if w.b.Len() > maxNoticeBytes {
		return // the notice will say noticeEverything
	}
	if w.n > 0 && bucket == w.lastBucket {
		w.b.WriteString("0:")
	} else {
		w.b.WriteString(strconv.Itoa(len(bucket)))
		w.b.WriteByte(':')
		w.b.WriteString(bucket)
		w.lastBucket = bucket
	}
	w.b.WriteString(strconv.Itoa(len(key)))
	w.b.WriteByte(':')
	w.b.WriteString(key)
	w.b.WriteString(strconv.FormatUint(lineage, 10))
	w.b.WriteByte(' ')
	w.b.WriteString(strconv.FormatUint(version, 10))
	w.b.WriteByte('\n')
	w.n++
}

// payloads returns the notice's payloads, for the store id and a sequence
// number that tells this notice from the store's others; nil when no write
// was added.
func (w *noticeWriter) payloads(id, seq uint64) []string {
	if w.n == 0 {
		return nil
	}
	body := w.b.String()
	if len(body) > maxNoticeBytes {
		body = noticeEverything
	}
	var parts []string
	for len(body) > 0 {
		n := min(len(body), maxPayload-maxHeader)
		for n < len(body) && !utf8.RuneStart(body[n]) {
			n--
		}
		parts = append(parts, body[:n])
		body = body[n:]
	}
	prefix := noticeMagic + " " + strconv.FormatUint(id, 16) + " " + strconv.FormatUint(seq, 16) + " "
	for i, p := range parts {
		parts[i] = prefix + strconv.Itoa(i) + "/" + strconv.Itoa(len(parts)) + "\n" + p
	}
	return parts
}

// noticePart is one payload, its header parsed.
type noticePart struct {
	store, seq  uint64
	part, parts int
	body        string
}

// parsePart parses a payload's header.
func parsePart(payload string) (noticePart, error) {
	header, body, ok := strings.Cut(payload, "\n")
	f := strings.Fields(header)
	if !ok || len(f) != 4 || f[0] != noticeMagic {
		return noticePart{}, errNotice
	}
	p := noticePart{body: body}
	num, den, ok := strings.Cut(f[3], "/")
	var errs [4]error
	p.store, errs[0] = strconv.ParseUint(f[1], 16, 64)
	p.seq, errs[1] = strconv.ParseUint(f[2], 16, 64)
	p.part, errs[2] = strconv.Atoi(num)
	p.parts, errs[3] = strconv.Atoi(den)
	if !ok || errors.Join(errs[:]...) != nil || p.part < 0 || p.part >= p.parts {
		return noticePart{}, errNotice
	}
	return p, nil
}

// noticeEntry is one write a notice announces, with bucket and key as
// stored.
type noticeEntry struct {
	bucket, key      string
	lineage, version uint64
}

// parseBody calls fn for every entry of a notice's whole body, in order; it
// reports everything when the body is noticeEverything.
func parseBody(body string, fn func(noticeEntry)) (everything bool, err error) {
	if body == noticeEverything {
		return true, nil
	}
	var e noticeEntry
	for first := true; body != ""; first = false {
		var bucket string
		if bucket, body, err = lengthPrefixed(body); err != nil {
			return false, err
		}
		switch {
		case bucket != "":
			e.bucket = bucket
		case first:
			return false, errNotice
		}
		if e.key, body, err = lengthPrefixed(body); err != nil {
			return false, err
		}
		line, rest, ok := strings.Cut(body, "\n")
		lineage, version, ok2 := strings.Cut(line, " ")
		if !ok || !ok2 {
			return false, errNotice
		}
		var err1, err2 error
		e.lineage, err1 = strconv.ParseUint(lineage, 10, 64)
		e.version, err2 = strconv.ParseUint(version, 10, 64)
		if err1 != nil || err2 != nil || e.key == "" {
			return false, errNotice
		}
		body = rest
		fn(e)
	}
	return false, nil
}

// lengthPrefixed splits "<n>:<n bytes>rest".
func lengthPrefixed(s string) (field, rest string, err error) {
	num, rest, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 || n > len(rest) {
		return "", "", errNotice
	}
	return rest[:n], rest[n:], nil
}
