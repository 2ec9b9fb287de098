// Package pgstore keeps livefold's snapshots in a PostgreSQL table: a
// [store.Store] for projection runtimes of several processes that share one
// database, with the contract package store states and store/storetest
// checks. It is a Go module of its own (github.com/livefold/livefold/pgstore),
// so that programs using only the embedded store never download a
// PostgreSQL driver; it uses github.com/jackc/pgx/v5.
//
// # Usage
//
//	s, err := pgstore.Open(ctx, "postgres://app@db/app", pgstore.WithJSONB())
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	// s is a store.Store: hand it to the projection runtime.
//
// [Open] makes a connection pool from a connection string and closes it in
// Close; [OpenPool] uses a pool the caller keeps. Every request commits in
// a transaction on one of the pool's connections; reads use one connection
// at a time and hold none while the caller's code runs.
//
// # Schema
//
// Open creates the table if it does not exist (under an advisory lock, so
// that concurrent Opens agree), and otherwise checks that it has the
// columns below, so a role that may not create tables can use a table made
// beforehand with this statement (the table is named with [WithTable],
// default livefold_snapshots):
//
//	CREATE TABLE livefold_snapshots (
//		projection    text COLLATE "C" NOT NULL,
//		key           text COLLATE "C" NOT NULL,
//		version       bigint NOT NULL,
//		stamp         bigint NOT NULL,
//		lineage       bigint NOT NULL,
//		position      bigint NOT NULL,
//		updated_at_ns bigint NOT NULL,
//		updated_at    timestamptz GENERATED ALWAYS AS (...) STORED,
//		state         bytea NOT NULL,
//		state_json    jsonb,
//		digest        bytea NOT NULL,
//		PRIMARY KEY (projection, key)
//	)
//
// One row holds one record: projection is the bucket name, key the key. The
// C collation makes the primary key's order the byte order of keys, which
// Scan and Keys follow. PostgreSQL text cannot hold the byte 0: a name or
// key containing 0x00 or 0x01 is stored with 0x00 as 0x01 0x01 and 0x01 as
// 0x01 0x02, which keeps the byte order; every other key is stored as it
// is, so WHERE key = 'acct-1' finds acct-1. The uint64 fields Version,
// Stamp, Lineage and Position are stored as the bigint of the same 64 bits
// (so values from 2⁶³ up read as negative in SQL). UpdatedAt is stored to
// the nanosecond in updated_at_ns (the zero time as the smallest bigint);
// updated_at shows it for people and SQL as a timestamptz, rounded down to
// the microsecond, NULL for the zero time. state holds the encoded state,
// exactly as the runtime wrote it (msgpack, for livefold's runtime).
// digest is a SHA-256 over the record's columns: see Damage.
//
// The server must run PostgreSQL 12 or later, in a database encoded in
// UTF8 (or SQL_ASCII); Open fails with [ErrServer] otherwise.
//
// # JSONB
//
// With [WithJSONB], the store also writes state_json, a JSON view of each
// state, so that read models can be queried with SQL:
//
//	SELECT key, state_json->>'Owner' FROM livefold_snapshots
//	WHERE projection = 'accounts' AND (state_json->>'Cents')::bigint > 1000;
//
// The view is written from the msgpack state by the store, in Submit;
// reads never use it, and states read back byte for byte as written, in
// either mode. The view of a msgpack value is what encoding/json writes for
// the Go value it decodes to: nil, booleans, numbers, strings, arrays and
// maps as such (integers exactly, also beyond 2⁵³); map keys that are
// integers as decimal strings; binary data as a base64 string; timestamps
// as RFC 3339 strings in UTC; bytes of a string that are not valid UTF-8,
// and U+0000, which jsonb cannot hold, as U+FFFD. jsonb orders the keys of
// an object its own way. A state that is not one msgpack value, or holds a
// NaN or infinite float, a map key that is neither a string nor an
// integer, an extension type other than timestamps, values nested more
// than 100 deep, or a view larger than 64 MiB, has no view: state_json is
// NULL. A store without WithJSONB writes NULL, so keep to one mode per
// table. Editing state_json changes nothing the store reads.
//
// # Commits
//
// Submit validates a request and queues it (a bounded queue: Submit waits
// for room, or until its ctx ends). One goroutine, the committer, takes
// every request queued while the previous batch committed and commits them
// in one transaction (READ COMMITTED), in two round trips: BEGIN, the
// transaction id and the write statements, pipelined; then the notice of
// what it wrote (see Changes by other stores) and COMMIT (a new connection
// takes one more, to prepare the statements). One write statement checks
// and applies any number of requests on distinct keys: it locks the
// records they replace, checks every Expect and every digest, and writes
// each request's writes all or none, so a request is atomic without
// savepoints and a conflict fails only its own request. A request that
// writes a key an earlier request of the batch wrote goes into a later
// statement, which sees that write; but when every such request expects
// exactly what the one before it wrote (a hot key, on which the runtime
// folds ahead of commits), the whole batch is one statement that writes
// each key's last record, after checking each key's first Expect, and runs
// again one statement per group of distinct keys if a check fails. Expect
// is checked by the database in the statement that writes, against the
// rows as they are, so two stores writing the same table lose no update:
// a record another transaction changed meanwhile makes the request
// conflict, and a key another transaction inserted after the statement
// found it absent makes the insert fail, after which the batch runs again
// (as it does after a deadlock between two writers). A request whose data
// the database refuses (a data error, such as a constraint a user added)
// fails alone with [store.ErrCommit], and the rest of its batch commits. A
// second goroutine calls the done callbacks, in submission order, so the
// next batch commits while they run.
//
// Gets are shared the same way: two goroutines each read, in one query,
// every Get queued while their previous query ran, so that a runtime whose
// callers load many keys it has not cached pays one round trip for them.
//
// # Faults
//
// A batch whose transaction fails, because the connection broke, the
// server stopped, or [WithCommitTimeout] ran out before COMMIT was sent,
// fails with an error wrapping store.ErrCommit, and nothing of it is
// stored; the store keeps serving, and later requests commit once the
// database is back. When the connection breaks after COMMIT was sent, the
// store cannot know from it whether the transaction committed: it asks the
// database, on another connection, for the status of the transaction's id
// (txid_status), ending the old server process if it still runs the
// transaction, and reports what happened. If the database cannot answer
// within the commit timeout, the batch's requests fail with
// [ErrOutcomeUnknown], which does not wrap store.ErrCommit: their writes
// may or may not be stored.
//
// # Damage
//
// Each row carries a SHA-256 digest of its version, stamp, lineage,
// position, updated_at_ns and state, computed by the database when the
// store writes the row and checked by the database whenever the store reads
// it. A row changed other than through a Store (an UPDATE by hand, a faulty
// migration) fails the check: Get returns a *store.CorruptError, Scan
// yields one for its key and carries on, a write that must check it fails
// its request with one, and a write with Force replaces or deletes it. A
// key edited into something Submit would never store (a lone 0x01) is
// damage too.
//
// # Changes by other stores
//
// Every transaction that writes announces what it wrote, within the
// transaction, with pg_notify on a channel named after the table
// (livefold_ and a digest of its schema-qualified name), in the same round
// trip as COMMIT: PostgreSQL delivers the notice to every session
// listening on the channel if and only if the transaction commits, in
// commit order. The notice names the store that sent it, and the bucket,
// key, lineage and version of each write, never states; one longer than a
// NOTIFY payload (8000 bytes, which a key may exceed) is sent in several
// payloads, which PostgreSQL delivers one after the other. [Store.Changes]
// listens on one connection per Store and yields the writes of the other
// Stores of the table, in this process or any other, which is how a
// projection runtime tells its subscribers of other processes' commits.
// It yields a Reset once it listens, to the calls that began before, and
// again after a lost connection, once it listens again, as store.Change
// describes.
//
// PostgreSQL serialises the commits of transactions that notify, across
// every session of the database, for the moment the notice is queued;
// since a Store commits a batch in one transaction, this costs a busy
// store little. Notices wait in the database's one queue of notifications
// (8 GB by default) until every session listening to any channel has read
// them: a session that listens but stops reading lets it grow, and once it
// is full, transactions that notify fail, and with them the store's
// commits. A Store reads all the time, even when its callers are slow.
//
// # Caveats
//
// Scan and Keys read a page at a time and are not snapshots: a record
// written during a walk is seen if its key comes after the page being
// read. PostgreSQL limits one value, and one protocol message, to 1 GB: a
// request whose states come near store.MaxRequestBytes cannot be sent, and
// fails with store.ErrCommit with its batch. The store prepares its
// statements (pgx's default): behind a pooler in transaction mode, such as
// PgBouncer before 1.21, set default_query_exec_mode=exec in the
// connection string. Changes listens on a connection of its own for as long
// as it runs, which a pooler in transaction mode does not keep: give such a
// deployment a connection string that reaches the server, or a pooler in
// session mode.
//
// # Testing
//
// The tests need a database of PostgreSQL 14 or later, on which they may
// create tables and end server processes, named by LIVEFOLD_PG_URL, and the
// test of examples/dashboard needs Chromium at /usr/bin/chromium; without
// them they are skipped, except when CI=true, where they fail.
// .ci/postgres.sh at the root of the repository runs a command against a
// throw-away cluster it starts and stops (installing Debian's postgresql
// package if needed). From this directory:
//
//	../.ci/postgres.sh go test -race -count=1 ./...
package pgstore
