package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// minServerVersion is the oldest PostgreSQL the store runs on: stored
// generated columns came with version 12.
const minServerVersion = 120000

// statements holds the SQL of one table, built once by Open.
type statements struct {
	table   string // the quoted identifier
	create  string
	columns string // reads every column, to check an existing table
	get     string
	getMany string
	scan    string
	keys    string
	write   string
}

// digest is the SQL expression of a row's checksum over the columns a
// Record is read from, with prefix naming the row ("t." or "w."). Both the
// write that stores a row and every read that verifies it use it, so that
// they cannot disagree; the database computes it, so that a checked write
// can verify the record it replaces without sending it to the client.
func digest(prefix string) string {
	return strings.NewReplacer("$", prefix).Replace(
		"sha256(int8send($version) || int8send($stamp) || int8send($lineage) || " +
			"int8send($position) || int8send($updated_at_ns) || $state)")
}

// zeroTimeNS is the updated_at_ns of the zero time: the one int64
// nanosecond store.ValidTime refuses.
const zeroTimeNS = "-9223372036854775808"

// micros is updated_at_ns in whole microseconds, rounded down, the
// precision of timestamptz. The updated_at column adds it to the epoch in
// days and microseconds, each product exact in the float8 that interval
// multiplication takes, and in timestamp arithmetic, which unlike
// timestamptz's is immutable, as a generated column must be.
const micros = "(div(updated_at_ns, 1000) - (mod(updated_at_ns, 1000) < 0)::int)"

func newStatements(table string) statements {
	t := pgx.Identifier{table}.Sanitize()
	s := statements{table: t}
	s.create = `CREATE TABLE IF NOT EXISTS ` + t + ` (
	projection    text COLLATE "C" NOT NULL,
	key           text COLLATE "C" NOT NULL,
	version       bigint NOT NULL,
	stamp         bigint NOT NULL,
	lineage       bigint NOT NULL,
	position      bigint NOT NULL,
	updated_at_ns bigint NOT NULL,
	updated_at    timestamptz GENERATED ALWAYS AS (CASE WHEN updated_at_ns = ` + zeroTimeNS + ` THEN NULL
	              ELSE (timestamp '1970-01-01'
	                    + interval '1 day' * div(` + micros + `, 86400000000)
	                    + interval '1 microsecond' * mod(` + micros + `, 86400000000)) AT TIME ZONE 'UTC' END) STORED,
	state         bytea NOT NULL,
	state_json    jsonb,
	digest        bytea NOT NULL,
	PRIMARY KEY (projection, key)
)`
	const recordColumns = `version, stamp, lineage, position, updated_at_ns, state`
	s.columns = `SELECT projection, key, ` + recordColumns + `, updated_at, state_json, digest FROM ` + t + ` WHERE false`
	s.get = `SELECT ` + recordColumns + `, digest = ` + digest("") + `
FROM ` + t + ` WHERE projection = $1 AND key = $2`
	// Several Gets in one query: i numbers them from 1; an absent record
	// has no row.
	s.getMany = `SELECT g.i, t.version, t.stamp, t.lineage, t.position, t.updated_at_ns, t.state, t.digest = ` + digest("t.") + `
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS g(projection, key, i)
JOIN ` + t + ` t ON t.projection = g.projection AND t.key = g.key`
	s.scan = `SELECT key, ` + recordColumns + `, digest = ` + digest("") + `
FROM ` + t + ` WHERE projection = $1 AND key > $2 ORDER BY key LIMIT $3`
	s.keys = `SELECT key FROM ` + t + ` WHERE projection = $1 AND key > $2 ORDER BY key LIMIT $3`

	// Requests whose writes touch distinct keys, each checked and applied
	// atomically by one statement. w holds their writes, one row each,
	// with the number of the request within the statement; cur locks the
	// records they replace, in key order, so that two stores locking
	// overlapping keys wait for each other rather than deadlock; bad is,
	// for each request, its first write whose Expect does not match or
	// whose record is damaged: such a request writes nothing, and bad is
	// what the statement returns. A key absent from cur is inserted
	// without ON CONFLICT: if another transaction inserts it meanwhile,
	// the insert fails with a unique violation instead of overwriting it
	// unchecked, and the committer runs the batch again (see retryable).
	s.write = `WITH w AS (
	SELECT * FROM unnest($1::int4[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::bool[], $7::bool[],
		$8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::bytea[], $14::text[])
	WITH ORDINALITY AS w(req, projection, key, expect, expect_stamp, force, del,
		version, stamp, lineage, position, updated_at_ns, state, state_json, i)
),
cur AS MATERIALIZED (
	SELECT w.i, t.version, t.stamp, w.force OR t.digest = ` + digest("t.") + ` AS intact
	FROM w JOIN ` + t + ` t ON t.projection = w.projection AND t.key = w.key
	ORDER BY t.projection, t.key
	FOR UPDATE OF t
),
bad AS MATERIALIZED (
	SELECT DISTINCT ON (w.req) w.req, w.i, coalesce(c.version, 0) AS version, coalesce(c.stamp, 0) AS stamp,
		coalesce(c.intact, true) AS intact
	FROM w LEFT JOIN cur c ON c.i = w.i
	WHERE NOT w.force AND (NOT coalesce(c.intact, true)
		OR coalesce(c.version, 0) <> w.expect OR coalesce(c.stamp, 0) <> w.expect_stamp)
	ORDER BY w.req, w.i
),
ok AS MATERIALIZED (
	SELECT w.* FROM w WHERE w.req NOT IN (SELECT req FROM bad)
),
del AS (
	DELETE FROM ` + t + ` t USING ok w, cur c
	WHERE w.del AND c.i = w.i AND t.projection = w.projection AND t.key = w.key
),
upd AS (
	UPDATE ` + t + ` t SET version = w.version, stamp = w.stamp, lineage = w.lineage, position = w.position,
		updated_at_ns = w.updated_at_ns, state = w.state, state_json = w.state_json::jsonb,
		digest = ` + digest("w.") + `
	FROM ok w, cur c
	WHERE NOT w.del AND c.i = w.i AND t.projection = w.projection AND t.key = w.key
),
ins AS (
	INSERT INTO ` + t + ` (projection, key, version, stamp, lineage, position, updated_at_ns, state, state_json, digest)
	SELECT w.projection, w.key, w.version, w.stamp, w.lineage, w.position, w.updated_at_ns, w.state,
		w.state_json::jsonb, ` + digest("w.") + `
	FROM ok w
	WHERE NOT w.del AND NOT EXISTS (SELECT FROM cur c WHERE c.i = w.i)
)
SELECT req, i, version, stamp, intact FROM bad`
	return s
}

// prepareSchema checks the server and creates the table if it is missing.
// Concurrent Opens of a new table serialise on an advisory lock, since
// concurrent CREATE TABLE IF NOT EXISTS can fail in PostgreSQL. An existing
// table is only checked for the columns the store uses, so a role without
// the right to create tables can open one made beforehand.
func prepareSchema(ctx context.Context, pool *pgxpool.Pool, st statements) error {
	var version int
	var encoding string
	err := pool.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_setting('server_encoding')`).
		Scan(&version, &encoding)
	if err != nil {
		return fmt.Errorf("pgstore: connect: %w", err)
	}
	if version < minServerVersion {
		return fmt.Errorf("%w: PostgreSQL %d.%d is older than 12", ErrServer, version/10000, version%10000)
	}
	// Keys and names are any valid UTF-8 (less the byte 0, see escape),
	// which text holds only in these two encodings.
	if encoding != "UTF8" && encoding != "SQL_ASCII" {
		return fmt.Errorf("%w: the database's encoding is %s, not UTF8", ErrServer, encoding)
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, st.table).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: look up table %s: %w", st.table, err)
	}
	if !exists {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "livefold pgstore schema "+st.table); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, st.create)
			return err
		})
		if err != nil {
			return fmt.Errorf("pgstore: create table %s: %w", st.table, err)
		}
	}
	if _, err := pool.Exec(ctx, st.columns); err != nil {
		return fmt.Errorf("%w: table %s: %w", ErrSchema, st.table, err)
	}
	return nil
}

// channelName returns the channel on which the Stores of the table st
// names announce their commits: derived from the table's schema-qualified
// name, so that the Stores of one table agree on it whatever their
// search_path, and tables of the same name in two schemas do not share it.
// A digest keeps it within the 63 bytes of an identifier.
func channelName(ctx context.Context, pool *pgxpool.Pool, st statements) (string, error) {
	var qualified string
	err := pool.QueryRow(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass`, st.table).
		Scan(&qualified)
	if err != nil {
		return "", fmt.Errorf("pgstore: look up table %s: %w", st.table, err)
	}
	sum := sha256.Sum256([]byte(qualified))
	return "livefold_" + hex.EncodeToString(sum[:12]), nil
}
