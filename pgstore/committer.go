package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/livefold/livefold/store"
)

// maxBatchBytes bounds a batch by the bytes of its requests as well as by
// their number: the committer stops taking requests once a batch holds this
// much, so that one transaction's pipeline stays a modest buffer.
const maxBatchBytes = 64 << 20

// maxAttempts bounds how often one batch is run again after a deadlock or a
// key inserted concurrently by another writer (see retryable).
const maxAttempts = 10

// batch is the requests committed in one transaction; errs[i] is the
// outcome of reqs[i]. The committer fills it and hands it to the deliverer,
// which owns it from then on.
type batch struct {
	reqs []*request
	errs []error
}

// committer is the state of the Store's committer goroutine, which takes
// batches off the queue and commits each in one transaction. Every field is
// owned by that goroutine.
type committer struct {
	s *Store
	// notices counts the notices the committer built, to number them
	// (see noticeWriter.payloads).
	notices uint64
}

func newCommitter(s *Store) *committer { return &committer{s: s} }

// run takes batches off the queue until Close closes it and everything
// queued was handled, then closes deliveries. It waits for the first
// request of a batch, then takes whatever else is already queued without
// waiting, so a lone caller never waits for company. While the deliverer
// runs the callbacks of one batch, the committer commits the next.
func (c *committer) run() {
	defer close(c.s.deliveries)
	for {
		req, ok := <-c.s.queue
		if !ok {
			return
		}
		b := &batch{reqs: []*request{req}}
		size := req.size
	drain:
		for len(b.reqs) < c.s.cfg.maxBatch && size < maxBatchBytes {
			select {
			case req, ok := <-c.s.queue:
				if !ok {
					break drain
				}
				b.reqs = append(b.reqs, req)
				size += req.size
			default:
				break drain
			}
		}
		b.errs = make([]error, len(b.reqs))
		c.commit(b)
		c.s.deliveries <- b
	}
}

// commit runs the batch's transaction, again after a retryable failure,
// and fills b.errs.
func (c *committer) commit(b *batch) {
	var pending []int // the requests with writes still to commit
	for i, r := range b.reqs {
		if r.cols != nil {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return // only empty requests: nothing to write
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.commitTimeout)
	defer cancel()
	mode := merged
	for attempt := 1; len(pending) > 0; attempt++ {
		res := c.attempt(ctx, b, pending, mode)
		switch res.kind {
		case committed:
			return
		case retry:
			if attempt < maxAttempts && ctx.Err() == nil {
				continue
			}
			c.fail(b, pending, res.err)
			return
		case drop:
			// The database refused this request's data: fail it alone and
			// commit the others without it.
			b.errs[res.req] = fmt.Errorf("%w: %w", store.ErrCommit, res.err)
			c.s.cfg.logger.Error("pgstore: the database refused a request", "table", c.s.cfg.table, "err", res.err)
			pending = slices.DeleteFunc(pending, func(i int) bool { return i == res.req })
		case unmerge:
			mode = max(mode, separate)
		case split:
			mode = single
		case failed, unknown:
			c.fail(b, pending, res.err)
			return
		}
	}
}

// attemptKind says how one attempt at a batch ended.
type attemptKind int

const (
	committed attemptKind = iota // every pending request has its outcome in errs
	retry                        // nothing committed; run the batch again
	drop                         // nothing committed; request req must fail alone
	split                        // nothing committed; the database refused one of several requests' data
	unmerge                      // nothing committed; a check of the merged requests failed
	failed                       // nothing committed; the batch fails
	unknown                      // the commit's outcome could not be learnt
)

type attemptResult struct {
	kind attemptKind
	err  error
	req  int // the request to drop
}

// attempt runs the batch's transaction once, in two round trips: the
// statements of every request, pipelined behind BEGIN, each returning its
// request's Expect verdict; then the notice of the writes that passed
// their checks, and COMMIT. COMMIT waits for the verdicts so that the
// transaction's id is known before it is sent: if the connection is lost
// after it was sent, the id is what tells whether it committed (see
// resolve). A COMMIT pipelined with the statements would save a round
// trip, and leave such a loss without an answer.
func (c *committer) attempt(ctx context.Context, b *batch, pending []int, mode planMode) attemptResult {
	verdicts := make([]error, len(pending))
	lost, res := c.transact(ctx, b, pending, plan(b, pending, mode), verdicts)
	if lost == nil {
		return res
	}
	// Asked on another connection of the pool, once this one is back: a
	// pool of one connection would otherwise wait for ever.
	c.s.cfg.logger.Warn("pgstore: connection lost during COMMIT; looking up the outcome",
		"table", c.s.cfg.table, "xid", lost.xid, "err", lost.err)
	ok, err := c.resolve(lost.xid, lost.pid)
	switch {
	case err != nil:
		return attemptResult{kind: unknown, err: err}
	case ok:
		c.settle(b, pending, verdicts)
		return attemptResult{kind: committed}
	default:
		return attemptResult{kind: failed, err: lost.err}
	}
}

// lostCommit describes a transaction whose COMMIT was sent on a connection
// that failed before the answer came.
type lostCommit struct {
	xid int64  // txid_current() of the transaction
	pid uint32 // the server process that ran it
	err error  // what the connection reported
}

// transact is attempt on one connection of the pool, which it holds until it
// returns, running stmts. It fills verdicts, and returns a non-nil
// lostCommit when the outcome is to be looked up, or else the attempt's
// result.
func (c *committer) transact(ctx context.Context, b *batch, pending []int, stmts []statement, verdicts []error) (*lostCommit, attemptResult) {
	conn, err := c.s.pool.Acquire(ctx)
	if err != nil {
		return nil, attemptResult{kind: failed, err: err}
	}
	// A connection left inside a transaction is closed by Release, which
	// makes the server roll that transaction back.
	defer conn.Release()

	pb := &pgx.Batch{}
	pb.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	pb.Queue("SELECT txid_current()")
	for _, st := range stmts {
		pb.Queue(c.s.sql.write, st.args(b, pending)...)
	}
	br := conn.SendBatch(ctx, pb)
	xid, applied, res := c.readVerdicts(br, b, pending, stmts, verdicts)
	if err := br.Close(); err != nil && res == nil {
		r := classify(err, nil)
		res = &r
	}
	if res != nil {
		c.rollback(ctx, conn.Conn())
		return nil, *res
	}
	if applied == 0 {
		// Every request was rejected: nothing to commit.
		c.rollback(ctx, conn.Conn())
		c.settle(b, pending, verdicts)
		return nil, attemptResult{kind: committed}
	}

	tag, err := conn.Exec(ctx, c.commitSQL(b, pending, verdicts))
	var pgErr *pgconn.PgError
	switch {
	case err == nil && tag.String() == "COMMIT":
		c.settle(b, pending, verdicts)
		return nil, attemptResult{kind: committed}
	case err == nil:
		return nil, attemptResult{kind: failed, err: fmt.Errorf("the server answered COMMIT with %s", tag)}
	case errors.As(err, &pgErr), !conn.Conn().IsClosed():
		// The server refused it, or it was never sent (a connection that
		// fails after sending is closed): either way the transaction did
		// not commit. pgconn.SafeToRetry cannot tell: pgx reports a
		// connection that broke while the answer was awaited as "conn
		// closed", safe to retry.
		return nil, attemptResult{kind: failed, err: err}
	}
	return &lostCommit{xid: xid, pid: conn.Conn().PgConn().PID(), err: err}, attemptResult{}
}

// readVerdicts reads the batch's results: the transaction id, then each
// statement's verdicts into verdicts. It returns how many requests passed
// their checks, and a non-nil result when a statement failed.
func (c *committer) readVerdicts(br pgx.BatchResults, b *batch, pending []int, stmts []statement, verdicts []error) (xid int64, applied int, res *attemptResult) {
	if _, err := br.Exec(); err != nil {
		r := classify(err, nil)
		return 0, 0, &r
	}
	if err := br.QueryRow().Scan(&xid); err != nil {
		r := classify(err, nil)
		return 0, 0, &r
	}
	for _, st := range stmts {
		if st.merged != nil {
			bad, err := readMerged(br)
			switch {
			case err != nil:
				r := classify(err, slices.Clone(pending))
				return 0, 0, &r
			case bad:
				return 0, 0, &attemptResult{kind: unmerge}
			}
			continue
		}
		if err := readVerdicts(br, b, pending, st, verdicts); err != nil {
			reqs := make([]int, len(st.reqs))
			for n, j := range st.reqs {
				reqs[n] = pending[j]
			}
			r := classify(err, reqs)
			return 0, 0, &r
		}
	}
	for _, v := range verdicts {
		if v == nil {
			applied++
		}
	}
	return xid, applied, nil
}

// readVerdicts reads one statement's result: a row for each of its
// requests that failed its checks, naming its first write that did, which
// becomes the request's verdict. err is the failure to read it.
func readVerdicts(br pgx.BatchResults, b *batch, pending []int, st statement, verdicts []error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			req            int32
			i              int64
			version, stamp int64
			intact         bool
		)
		if err := rows.Scan(&req, &i, &version, &stamp, &intact); err != nil {
			return err
		}
		if req < 0 || int(req) >= len(st.reqs) {
			return fmt.Errorf("pgstore: the write statement named request %d of %d", req, len(st.reqs))
		}
		j := st.reqs[req]
		writes := b.reqs[pending[j]].writes
		n := i - int64(st.starts[req])
		if n < 0 || n >= int64(len(writes)) {
			return fmt.Errorf("pgstore: the write statement named write %d of %d", n, len(writes))
		}
		w := &writes[n]
		if !intact {
			verdicts[j] = &store.CorruptError{Bucket: w.Bucket, Key: w.Key, Reason: "digest mismatch"}
			continue
		}
		verdicts[j] = store.CheckExpect(w, version != 0, uint64(version), uint64(stamp))
		if verdicts[j] == nil {
			return fmt.Errorf("pgstore: the write statement refused write %d, which matches", n)
		}
	}
	return rows.Err()
}

// readMerged reads the result of a statement of merged requests: whether
// a check failed, and then nothing was written.
func readMerged(br pgx.BatchResults) (bad bool, err error) {
	rows, err := br.Query()
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		bad = true
	}
	return bad, rows.Err()
}

// classify turns a failed statement into an attempt's result; reqs are the
// requests of the statement that failed, none for another statement.
func classify(err error, reqs []int) attemptResult {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return attemptResult{kind: failed, err: err}
	}
	switch {
	case retryable(pgErr.Code):
		return attemptResult{kind: retry, err: err}
	case len(reqs) > 0 && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "54")):
		// data_exception, program_limit_exceeded: a request's data, not
		// the database, is the cause.
		if len(reqs) == 1 {
			return attemptResult{kind: drop, err: err, req: reqs[0]}
		}
		return attemptResult{kind: split, err: err}
	}
	return attemptResult{kind: failed, err: err}
}

// retryable reports whether a batch that failed with the SQLSTATE code may
// succeed when run again: a deadlock with another writer, or a unique
// violation, which means another writer inserted a key this batch checked
// as absent (see the write statement).
func retryable(code string) bool {
	switch code {
	case "40P01", "40001", "23505": // deadlock_detected, serialization_failure, unique_violation
		return true
	}
	return false
}

// rollback ends the connection's transaction; if it cannot, Release closes
// the connection, which ends it as well.
func (c *committer) rollback(ctx context.Context, conn *pgx.Conn) {
	if !conn.IsClosed() {
		_, _ = conn.Exec(ctx, "ROLLBACK")
	}
}

// settle records the verdicts of a transaction that committed (or had
// nothing to commit).
func (c *committer) settle(b *batch, pending []int, verdicts []error) {
	for j, i := range pending {
		b.errs[i] = verdicts[j]
	}
}

// fail gives every pending request of the batch the same error: one
// wrapping store.ErrCommit, or ErrOutcomeUnknown's.
func (c *committer) fail(b *batch, pending []int, cause error) {
	err := cause
	if !errors.Is(cause, ErrOutcomeUnknown) {
		err = fmt.Errorf("%w: %w", store.ErrCommit, cause)
	}
	for _, i := range pending {
		b.errs[i] = err
	}
	c.s.cfg.logger.Error("pgstore: commit failed", "table", c.s.cfg.table, "requests", len(pending), "err", cause)
}
