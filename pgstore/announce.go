package pgstore

import "strings"

// commitSQL returns what ends a batch's transaction: the notice of the
// writes of every request that passed its checks (verdicts[j] nil for
// b.reqs[pending[j]]), as pg_notify calls, then COMMIT, in one simple
// query, so that the notice costs no round trip of its own. PostgreSQL
// delivers the notice only if COMMIT succeeds, and skips COMMIT if a
// pg_notify fails, leaving the transaction to roll back.
func (c *committer) commitSQL(b *batch, pending []int, verdicts []error) string {
	var w noticeWriter
	for j, i := range pending {
		if verdicts[j] != nil {
			continue
		}
		for _, wr := range b.reqs[i].writes {
			var lineage, version uint64
			if !wr.Delete {
				lineage, version = wr.Record.Lineage, wr.Record.Version
			}
			w.add(escape(wr.Bucket), escape(wr.Key), lineage, version)
		}
	}
	c.notices++
	payloads := w.payloads(c.s.id, c.notices)
	if len(payloads) == 0 {
		return "COMMIT"
	}
	var q strings.Builder
	channel := quoteLiteral(c.s.channel)
	for _, p := range payloads {
		q.WriteString("SELECT pg_notify(")
		q.WriteString(channel)
		q.WriteString(", ")
		q.WriteString(quoteLiteral(p))
		q.WriteString(");")
	}
	q.WriteString("COMMIT")
	return q.String()
}

// literalEscaper escapes a string for an escape string constant.
var literalEscaper = strings.NewReplacer(`\`, `\\`, `'`, `''`)

// quoteLiteral returns s as an SQL string constant. The escape string
// syntax (E'...') reads the same whatever standard_conforming_strings says.
// s must not contain the byte 0, which no SQL text may hold.
func quoteLiteral(s string) string {
	return "E'" + literalEscaper.Replace(s) + "'"
}
