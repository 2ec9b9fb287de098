package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"
)

// Waits between two questions about a lost commit's outcome.
const (
	resolveFirstWait = 10 * time.Millisecond
	resolveMaxWait   = time.Second
)

// resolve learns whether the transaction xid, whose COMMIT was sent by the
// server process pid before the connection failed, committed. The
// transaction's own status is the only sure answer: reading the rows back
// cannot tell a batch that deleted records, or whose records another writer
// replaced since, from one that never landed. While the transaction is in
// progress (its server process has not yet noticed that the client is
// gone) resolve ends that process, only if it still runs xid, and asks
// again. It keeps asking, also while the database is unreachable, until
// the commit timeout ends; then the error wraps ErrOutcomeUnknown.
func (c *committer) resolve(xid int64, pid uint32) (committed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.commitTimeout)
	defer cancel()
	// pg_stat_activity shows the 32-bit xid, without txid_current()'s
	// epoch.
	shortXID := strconv.FormatInt(xid&0xffffffff, 10)
	wait := resolveFirstWait
	terminated := false
	var last error
	for {
		var status *string
		err := c.s.pool.QueryRow(ctx, `SELECT txid_status($1)`, xid).Scan(&status)
		switch {
		case err != nil:
			last = err
		case status == nil:
			return false, fmt.Errorf("%w: transaction %d is too old to look up", ErrOutcomeUnknown, xid)
		case *status == "committed":
			return true, nil
		case *status == "aborted":
			return false, nil
		case !terminated:
			_, err := c.s.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE pid = $1 AND backend_xid::text = $2`, int64(pid), shortXID)
			terminated = err == nil
			last = err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false, fmt.Errorf("%w: transaction %d: %w", ErrOutcomeUnknown, xid, cmp.Or(last, ctx.Err()))
		case <-timer.C:
		}
		wait = min(2*wait, resolveMaxWait)
	}
}
