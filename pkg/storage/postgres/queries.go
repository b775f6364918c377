package postgres

// Every SQL statement the storage engine runs is here, so that the schema's
// users can be read in one place (the schema itself is in migrations/).
// Statements that take a key range or a pushed-down selector are formatted
// with keyRange.where and Store.pushDown (list.go) and carry only bind
// parameters for values.

// Writes and reads of one key (store.go). Each write is one statement that
// draws its revision with sluice.next_rv() and writes its kv row and its
// events row together.
const (
	getSQL = `SELECT rv, value FROM sluice.kv WHERE key = $1`

	// lockKeySQL runs before createSQL, in the same transaction: it
	// serialises the creates of one key (a transaction-scoped advisory
	// lock on a 64-bit hash of the key, in the bigint key space; a
	// collision only makes two creates wait for each other). Without it a
	// create whose snapshot predates a concurrent create of the same key
	// draws its revision, waits on the other's row, and, if that row was
	// deleted meanwhile, lands after the delete with the older revision:
	// the events then say create, create, delete while the key holds the
	// second object. With it, createSQL's snapshot is taken after every
	// earlier create of the key has ended, and a delete committed before
	// it has a lower revision than the one it draws. Updates and deletes
	// lock the row itself before drawing theirs.
	lockKeySQL = `SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))`

	// createSQL draws a revision only when the key is free, so a create of
	// an existing key neither writes nor uses up a revision.
	createSQL = `
WITH ins AS (
	INSERT INTO sluice.kv (key, rv, create_rv, value, labels, fields, expires_at)
	SELECT $1::text, r.rv, r.rv, $2::bytea, $3::jsonb, $4::jsonb,
		CASE WHEN $5::bigint > 0 THEN now() + make_interval(secs => $5::double precision) END
	FROM (SELECT sluice.next_rv() AS rv WHERE NOT EXISTS (SELECT 1 FROM sluice.kv WHERE key = $1::text)) r
	ON CONFLICT (key) DO NOTHING
	RETURNING rv
)
INSERT INTO sluice.events (rv, key, type, value, create_rv)
SELECT rv, $1::text, 1, $2::bytea, rv FROM ins
RETURNING ` + eventReturning

	// updateSQL locks the row at the expected revision first, then draws the
	// new revision, so a conflicting update uses up no revision.
	updateSQL = `
WITH cur AS (
	SELECT key, rv, value FROM sluice.kv WHERE key = $1::text AND rv = $2::bigint FOR UPDATE
), upd AS (
	UPDATE sluice.kv k SET rv = sluice.next_rv(), value = $3::bytea, labels = $4::jsonb, fields = $5::jsonb,
		expires_at = CASE WHEN $6::bigint > 0 THEN now() + make_interval(secs => $6::double precision) END
	FROM cur WHERE k.key = cur.key
	RETURNING k.rv, k.create_rv, cur.value AS prev_value, cur.rv AS prev_rv
)
INSERT INTO sluice.events (rv, key, type, value, prev_value, prev_rv, create_rv)
SELECT rv, $1::text, 2, $3::bytea, prev_value, prev_rv, create_rv FROM upd
RETURNING ` + eventReturning

	deleteSQL = `
WITH del AS (
	DELETE FROM sluice.kv WHERE key = $1::text AND rv = $2::bigint RETURNING value, rv, create_rv
)
INSERT INTO sluice.events (rv, key, type, prev_value, prev_rv, create_rv)
SELECT sluice.next_rv(), $1::text, 3, value, rv, create_rv FROM del
RETURNING ` + eventReturning
)

// eventReturning is what a write statement returns: the parts of its events
// row the caller does not already have.
const eventReturning = `rv, prev_value, coalesce(prev_rv, 0), create_rv`

// Reads at a revision (list.go).

// listAtSQL is formatted with the key range (twice) and the pushed-down
// filter. The compacted revision comes back on every row, read in the same
// snapshot as the rows; the two ordered inputs are merged, never re-sorted.
const listAtSQL = `
WITH changed AS (
	SELECT DISTINCT ON (key) key, prev_value, prev_rv
	FROM sluice.events
	WHERE rv > $1 AND %[1]s
	ORDER BY key, rv
)
SELECT (SELECT compact_rv FROM sluice.meta), s.key, s.rv, s.value FROM (
	(SELECT key, rv, value FROM sluice.kv
	 WHERE %[1]s AND rv <= $1 %[2]s
	 ORDER BY key LIMIT $4)
	UNION ALL
	(SELECT key, prev_rv, prev_value FROM changed WHERE prev_value IS NOT NULL ORDER BY key LIMIT $4)
	ORDER BY key LIMIT $4
) s
ORDER BY s.key`

// countAtSQL is formatted with the key range (twice).
const countAtSQL = `
WITH changed AS (
	SELECT DISTINCT ON (key) key, prev_value
	FROM sluice.events
	WHERE rv > $1 AND %[1]s
	ORDER BY key, rv
)
SELECT count(*), coalesce(sum(size), 0) FROM (
	(SELECT length(value) AS size FROM sluice.kv WHERE %[1]s AND rv <= $1 LIMIT $4)
	UNION ALL
	(SELECT length(prev_value) FROM changed WHERE prev_value IS NOT NULL LIMIT $4)
) s`

const historySQL = `
SELECT (SELECT compact_rv FROM sluice.meta), rv, key, type, value, prev_value, coalesce(prev_rv, 0), coalesce(create_rv, 0)
FROM sluice.events
WHERE rv > $1 AND rv <= $2 AND %s AND type <> 0
ORDER BY rv LIMIT $5`

// The sequencer's statements (sequencer_source.go): what it reads and writes
// to order revisions.
const (
	// selectEvents reads the holes still open below readPos ($1, all at
	// or below $2) and the next events after it, two index range scans.
	// As one scan WHERE rv = ANY($1) OR rv > $2, the generic plan
	// PostgreSQL settles on for the prepared statement walked the events
	// index from its first row, filtering: a read cost every event kept,
	// not the ones returned (TestSelectEventsPlanIsBounded).
	selectEvents = `
SELECT rv, coalesce(key, ''), type, value, prev_value, coalesce(prev_rv, 0), coalesce(create_rv, 0)
FROM (
	(SELECT rv, key, type, value, prev_value, prev_rv, create_rv FROM sluice.events
	WHERE rv = ANY($1) AND rv <= $2)
	UNION ALL
	(SELECT rv, key, type, value, prev_value, prev_rv, create_rv FROM sluice.events
	WHERE rv > $2 ORDER BY rv LIMIT $3)
) e
ORDER BY rv
LIMIT $3`
	selectCompactRV = `SELECT compact_rv FROM sluice.meta`
	// fillGaps closes the holes whose write no longer holds its revision
	// (migrations/0003_revision_locks.sql) and returns the revisions it
	// closed. A write that committed keeps its row (ON CONFLICT).
	fillGaps = `
INSERT INTO sluice.events (rv, type)
SELECT g, 0 FROM unnest($1::bigint[]) AS g WHERE sluice.try_lock_rv(g)
ON CONFLICT (rv) DO NOTHING
RETURNING rv`
	// selectStartRV finds where publishing may start after a restart: the
	// last revision before the first hole above the compacted revision.
	selectStartRV = `
WITH r AS (SELECT rv, lag(rv, 1, $1::bigint) OVER (ORDER BY rv) AS prev FROM sluice.events WHERE rv > $1)
SELECT coalesce((SELECT prev FROM r WHERE rv <> prev + 1 ORDER BY rv LIMIT 1), (SELECT max(rv) FROM r), $1)`
)

// Compaction (compact.go): raise the compacted revision, then delete history
// below it in bounded batches.
const (
	raiseCompactRV = `UPDATE sluice.meta SET compact_rv = $1 WHERE compact_rv < $1 RETURNING compact_rv`
	deleteHistory  = `DELETE FROM sluice.events WHERE rv >= $1 AND rv <= $2`
	minHistoryRV   = `SELECT coalesce(min(rv), $1) FROM sluice.events`
)

// The revision most recently drawn by any write, committed or not.
const selectLastDrawnRV = `SELECT last_value, is_called FROM sluice.rv_seq`

// TTL expiry: the objects whose time has passed, oldest first.
const selectExpired = `SELECT key, rv FROM sluice.kv WHERE expires_at <= now() ORDER BY expires_at LIMIT 100`

// durableBarrierSQL is a transaction that writes WAL and commits, and so,
// under synchronous replication, returns only once the synchronous standby
// has the WAL up to its commit record. A transactional logical-decoding
// message is the smallest such write: no table, no lock, no privilege
// needed (a transaction that only takes an xid writes no WAL and does not
// wait). The sequencer runs it after reading other replicas' events and
// before publishing them.
const durableBarrierSQL = `SELECT pg_logical_emit_message(true, 'sluice.durable', '')`

// Wake-up hints between replicas; they never carry data.
const (
	notifyChannel = "sluice_events"
	notifySQL     = `SELECT pg_notify($1, '')`
	listenSQL     = "LISTEN " + notifyChannel
)

// Session-level advisory locks: the migration lock and the compaction lock.
const (
	advisoryLock    = `SELECT pg_advisory_lock($1)`
	tryAdvisoryLock = `SELECT pg_try_advisory_lock($1)`
	advisoryUnlock  = `SELECT pg_advisory_unlock($1)`
)

// Schema migrations (migrate.go); the migrations themselves are migrations/*.sql.
const (
	createVersionTable = `
CREATE SCHEMA IF NOT EXISTS sluice;
CREATE TABLE IF NOT EXISTS sluice.schema_version (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
	selectSchemaVersion = `SELECT coalesce(max(version), 0) FROM sluice.schema_version`
	insertSchemaVersion = `INSERT INTO sluice.schema_version (version, name) VALUES ($1, $2)`
)

// The log archive (logarchive.go). A log's chunks go with its row.
const (
	deleteLogSQL = `DELETE FROM sluice.logs WHERE job_uid = $1 AND step = $2 AND attempt = $3 AND action = $4`

	insertLogSQL = `
INSERT INTO sluice.logs (job_uid, step, attempt, action, namespace, job, bytes, truncated_bytes, stored_bytes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING archived_at`

	insertLogChunkSQL = `INSERT INTO sluice.log_chunks (job_uid, step, attempt, action, chunk, data) VALUES ($1, $2, $3, $4, $5, $6)`

	logInfoSQL = `
SELECT namespace, job, bytes, truncated_bytes, stored_bytes, archived_at
FROM sluice.logs WHERE job_uid = $1 AND step = $2 AND attempt = $3 AND action = $4`

	listLogsSQL = `
SELECT step, attempt, action, namespace, job, bytes, truncated_bytes, stored_bytes, archived_at
FROM sluice.logs WHERE job_uid = $1 ORDER BY step, attempt, action`

	logChunkSQL = `
SELECT data FROM sluice.log_chunks
WHERE job_uid = $1 AND step = $2 AND attempt = $3 AND action = $4 AND chunk = $5`

	deleteJobLogsSQL = `DELETE FROM sluice.logs WHERE job_uid = $1`

	// deleteOrphanLogsSQL removes the logs of jobs whose key ($1 is the
	// key prefix of jobs) no longer exists, archived before $2.
	deleteOrphanLogsSQL = `
DELETE FROM sluice.logs l
WHERE l.archived_at < $2
  AND NOT EXISTS (SELECT 1 FROM sluice.kv k WHERE k.key = $1 || l.namespace || '/' || l.job)`
)
