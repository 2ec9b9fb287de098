package pgstore

import "github.com/livefold/livefold/store"

// writeCols holds writes as the write statement takes them: one array per
// column, one element per write, in the order of the statement's unnest.
// Submit builds a request's on the caller's goroutine; the committer
// appends the requests of one statement together. uint64 fields are
// stored in bigint columns as the int64 of the same bits.
type writeCols struct {
	reqs        []int32 // the request's number within its statement
	projections []string
	keys        []string
	expects     []int64
	expectStamp []int64
	force       []bool
	del         []bool
	versions    []int64
	stamps      []int64
	lineages    []int64
	positions   []int64
	updated     []int64
	states      [][]byte
	views       []*string
}

// writeCols returns the columns of one request's writes, numbered request
// 0.
func (s *Store) writeCols(writes []store.Write) *writeCols {
	n := len(writes)
	c := &writeCols{
		reqs:        make([]int32, n),
		projections: make([]string, n),
		keys:        make([]string, n),
		expects:     make([]int64, n),
		expectStamp: make([]int64, n),
		force:       make([]bool, n),
		del:         make([]bool, n),
		versions:    make([]int64, n),
		stamps:      make([]int64, n),
		lineages:    make([]int64, n),
		positions:   make([]int64, n),
		updated:     make([]int64, n),
		states:      make([][]byte, n),
		views:       make([]*string, n),
	}
	for i := range writes {
		w := &writes[i]
		c.projections[i] = escape(w.Bucket)
		c.keys[i] = escape(w.Key)
		c.expects[i] = int64(w.Expect)
		c.expectStamp[i] = int64(w.ExpectStamp)
		c.force[i] = w.Force
		c.del[i] = w.Delete
		// A NULL element would violate NOT NULL; an empty state reads
		// back as empty.
		c.states[i] = []byte{}
		if w.Delete {
			continue
		}
		r := &w.Record
		c.versions[i] = int64(r.Version)
		c.stamps[i] = int64(r.Stamp)
		c.lineages[i] = int64(r.Lineage)
		c.positions[i] = int64(r.Position)
		c.updated[i] = unixNano(r)
		if r.State != nil {
			c.states[i] = r.State
		}
		if s.cfg.jsonb {
			if j, ok := jsonView(r.State); ok {
				v := string(j)
				c.views[i] = &v
			}
		}
	}
	return c
}

// add appends the writes of c as request number req.
func (w *writeCols) add(c *writeCols, req int32) {
	for range c.reqs {
		w.reqs = append(w.reqs, req)
	}
	w.projections = append(w.projections, c.projections...)
	w.keys = append(w.keys, c.keys...)
	w.expects = append(w.expects, c.expects...)
	w.expectStamp = append(w.expectStamp, c.expectStamp...)
	w.force = append(w.force, c.force...)
	w.del = append(w.del, c.del...)
	w.versions = append(w.versions, c.versions...)
	w.stamps = append(w.stamps, c.stamps...)
	w.lineages = append(w.lineages, c.lineages...)
	w.positions = append(w.positions, c.positions...)
	w.updated = append(w.updated, c.updated...)
	w.states = append(w.states, c.states...)
	w.views = append(w.views, c.views...)
}

// args returns the parameters of the write statement.
func (w *writeCols) args() []any {
	return []any{w.reqs, w.projections, w.keys, w.expects, w.expectStamp, w.force, w.del,
		w.versions, w.stamps, w.lineages, w.positions, w.updated, w.states, w.views}
}

// addRow appends write n of c, as request 0.
func (w *writeCols) addRow(c *writeCols, n int) {
	w.reqs = append(w.reqs, 0)
	w.projections = append(w.projections, c.projections[n])
	w.keys = append(w.keys, c.keys[n])
	w.expects = append(w.expects, c.expects[n])
	w.expectStamp = append(w.expectStamp, c.expectStamp[n])
	w.force = append(w.force, c.force[n])
	w.del = append(w.del, c.del[n])
	w.versions = append(w.versions, c.versions[n])
	w.stamps = append(w.stamps, c.stamps[n])
	w.lineages = append(w.lineages, c.lineages[n])
	w.positions = append(w.positions, c.positions[n])
	w.updated = append(w.updated, c.updated[n])
	w.states = append(w.states, c.states[n])
	w.views = append(w.views, c.views[n])
}

// setRecord makes row's outcome that of write n of c, keeping row's check.
func (w *writeCols) setRecord(row int, c *writeCols, n int) {
	w.del[row] = c.del[n]
	w.versions[row] = c.versions[n]
	w.stamps[row] = c.stamps[n]
	w.lineages[row] = c.lineages[n]
	w.positions[row] = c.positions[n]
	w.updated[row] = c.updated[n]
	w.states[row] = c.states[n]
	w.views[row] = c.views[n]
}
