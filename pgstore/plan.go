package pgstore

// planMode says how a batch's requests are grouped into statements, from
// the fewest statements to the most.
type planMode int

const (
	// merged writes the final record of every key in one statement,
	// after the checks of each key's first write, when every later write
	// expects what the write before it in the batch writes: a hot key's
	// chain of requests costs one row. A failed check then writes nothing
	// and the batch runs again separate.
	merged planMode = iota
	// separate gives each request its own checks and outcome, with as
	// few statements as requests on distinct keys allow.
	separate
	// single gives each request a statement of its own, to tell which
	// request's data the database refuses.
	single
)

// statement is one write statement of a batch's transaction: requests
// whose writes touch distinct keys, which one statement checks and applies
// each atomically, at the cost of one; or every request, merged.
type statement struct {
	reqs   []int      // the requests, as indexes into the batch's pending list
	starts []int      // the ordinal (from 1) of each request's first write in the statement
	writes int        // writes in the statement
	merged *writeCols // the merged writes of every request, or nil
}

// recordID names one record.
type recordID struct{ bucket, key string }

// plan groups the pending requests of b into statements, run in order. In
// separate mode, a request joins the statement after the last one that
// holds a request writing one of its keys, so that its checks see every
// earlier request's writes, as if each ran alone in submission order; a
// batch of requests on distinct keys is one statement, and a key written by
// every request (a hot key) makes as many statements, which merged mode
// makes one when it can.
func plan(b *batch, pending []int, mode planMode) []statement {
	var stmts []statement
	last := make(map[recordID]int) // the statement that last wrote each key
	for j, i := range pending {
		writes := b.reqs[i].writes
		n := 0
		if mode == single {
			n = len(stmts)
		} else {
			for _, w := range writes {
				if s, ok := last[recordID{w.Bucket, w.Key}]; ok {
					n = max(n, s+1)
				}
			}
			for _, w := range writes {
				last[recordID{w.Bucket, w.Key}] = n
			}
		}
		if n == len(stmts) {
			stmts = append(stmts, statement{})
		}
		st := &stmts[n]
		st.reqs = append(st.reqs, j)
		st.starts = append(st.starts, st.writes+1)
		st.writes += len(writes)
	}
	if mode == merged && len(stmts) > 1 {
		if m, ok := merge(b, pending); ok {
			all := make([]int, len(pending))
			for j := range all {
				all[j] = j
			}
			return []statement{{reqs: all, merged: m}}
		}
	}
	return stmts
}

// merge returns the writes of the pending requests of b as one request
// that leaves every record as they would: for each record, the check of
// its first write and the record of its last. It returns false when a
// later write's Expect does not name what the write before it in the batch
// writes, since then that request fails, which only separate statements
// can report.
func merge(b *batch, pending []int) (*writeCols, bool) {
	m := &writeCols{}
	at := make(map[recordID]int) // each record's row in m
	for _, i := range pending {
		r := b.reqs[i]
		for n, w := range r.writes {
			id := recordID{w.Bucket, w.Key}
			row, ok := at[id]
			if !ok {
				at[id] = len(m.keys)
				m.addRow(r.cols, n)
				continue
			}
			var version, stamp int64 // what the batch left: absent after a delete
			if !m.del[row] {
				version, stamp = m.versions[row], m.stamps[row]
			}
			if !w.Force && (int64(w.Expect) != version || int64(w.ExpectStamp) != stamp) {
				return nil, false
			}
			m.setRecord(row, r.cols, n)
		}
	}
	return m, true
}

// args returns the parameters of the statement's write statement.
func (st *statement) args(b *batch, pending []int) []any {
	if st.merged != nil {
		return st.merged.args()
	}
	if len(st.reqs) == 1 {
		return b.reqs[pending[st.reqs[0]]].cols.args()
	}
	var cols writeCols
	for n, j := range st.reqs {
		cols.add(b.reqs[pending[j]].cols, int32(n))
	}
	return cols.args()
}
