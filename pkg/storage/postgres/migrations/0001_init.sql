-- Sluice storage schema, version 1. See docs/storage.md.

CREATE SCHEMA IF NOT EXISTS sluice;

-- Resource versions. Every write draws one value, in the same statement that
-- writes its rows. CACHE 1 keeps values handed out in increasing order across
-- sessions; aborted or conflicting writes leave holes, which the publisher
-- closes with gap rows (see events.type = 0).
CREATE SEQUENCE sluice.rv_seq AS bigint MINVALUE 1 START 1 CACHE 1;

-- Current state: one row per key.
CREATE TABLE sluice.kv (
	key        text COLLATE "C" PRIMARY KEY,
	rv         bigint NOT NULL,          -- revision of the last write (mod revision)
	create_rv  bigint NOT NULL,          -- revision that created the key
	value      bytea NOT NULL,           -- encoded (and transformed) object
	labels     jsonb,                    -- metadata.labels, for label selectors
	fields     jsonb,                    -- selectable fields, for field selectors
	expires_at timestamptz               -- TTL (events); NULL for no expiry
);
CREATE INDEX kv_labels ON sluice.kv USING gin (labels);
CREATE INDEX kv_expires_at ON sluice.kv (expires_at) WHERE expires_at IS NOT NULL;

-- History: one row per write, kept for the compaction window. It feeds watch
-- and answers reads at past revisions. type: 0 gap, 1 create, 2 update, 3 delete.
CREATE TABLE sluice.events (
	rv         bigint PRIMARY KEY,
	key        text COLLATE "C",
	type       smallint NOT NULL,
	value      bytea,                    -- new value (create, update)
	prev_value bytea,                    -- value before the write (update, delete)
	prev_rv    bigint,                   -- revision of prev_value
	create_rv  bigint                    -- revision that created the key
);
CREATE INDEX events_key_rv ON sluice.events (key, rv);

-- One row of shared state: the compacted revision every replica agrees on.
CREATE TABLE sluice.meta (
	id         boolean PRIMARY KEY DEFAULT true CHECK (id),
	compact_rv bigint NOT NULL DEFAULT 0
);
INSERT INTO sluice.meta DEFAULT VALUES;

-- Revision 1 is the empty database, as in etcd: the first write is 2 and
-- a list of an empty database has a valid resourceVersion.
INSERT INTO sluice.events (rv, type) VALUES (nextval('sluice.rv_seq'), 0);

-- next_rv is the only way a write draws a revision.
CREATE FUNCTION sluice.next_rv() RETURNS bigint
	LANGUAGE sql VOLATILE AS $$ SELECT nextval('sluice.rv_seq') $$;
