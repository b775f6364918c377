-- The log archive (logarchive.go): the output of each action of each
-- attempt of a job's steps, kept after its Pod is gone. sluice.logs has a
-- row per log; its content is in sluice.log_chunks, gzip-compressed by the
-- server, so PostgreSQL is told not to compress it again.
CREATE TABLE sluice.logs (
	job_uid         text COLLATE "C" NOT NULL,
	step            text COLLATE "C" NOT NULL,
	attempt         integer NOT NULL,
	action          text COLLATE "C" NOT NULL,
	namespace       text COLLATE "C" NOT NULL,
	job             text COLLATE "C" NOT NULL,
	bytes           bigint NOT NULL,   -- content kept
	truncated_bytes bigint NOT NULL,   -- dropped from its start
	stored_bytes    bigint NOT NULL,   -- compressed
	archived_at     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (job_uid, step, attempt, action)
);

CREATE TABLE sluice.log_chunks (
	job_uid text COLLATE "C" NOT NULL,
	step    text COLLATE "C" NOT NULL,
	attempt integer NOT NULL,
	action  text COLLATE "C" NOT NULL,
	chunk   integer NOT NULL,
	data    bytea NOT NULL,
	PRIMARY KEY (job_uid, step, attempt, action, chunk),
	FOREIGN KEY (job_uid, step, attempt, action) REFERENCES sluice.logs ON DELETE CASCADE
);
ALTER TABLE sluice.log_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
