-- A write holds its revision until it ends. See docs/storage.md, "Resource
-- versions".
--
-- next_rv takes a transaction-scoped advisory lock on the revision it draws,
-- so the lock is held until the write commits or aborts, however long storing
-- its value takes. The publisher closes a hole with a gap row only when it can
-- take that lock (try_lock_rv): a write in flight keeps its revision, and one
-- that aborted or died with its connection has released it.
--
-- The lock of revision rv uses the two-int4 key form, a key space of its own
-- (pg_locks.objsubid 2), apart from the bigint keys of the migration and
-- compaction locks (objsubid 1). Its first key is a constant XOR the high 32
-- bits of rv, its second the low 32 bits moved into int4's range: both maps
-- are one-to-one, so no two revisions share a lock.

CREATE FUNCTION sluice.rv_lock_key1(rv bigint) RETURNS int4
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT (1372454912 # (rv >> 32))::int4 $$; -- 1372454912 is 0x51CE0000

CREATE FUNCTION sluice.rv_lock_key2(rv bigint) RETURNS int4
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT ((rv & 4294967295) - 2147483648)::int4 $$;

-- next_rv is the only way a write draws a revision.
CREATE OR REPLACE FUNCTION sluice.next_rv() RETURNS bigint
	LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	rv bigint := nextval('sluice.rv_seq');
BEGIN
	PERFORM pg_advisory_xact_lock(sluice.rv_lock_key1(rv), sluice.rv_lock_key2(rv));
	RETURN rv;
END $$;

-- try_lock_rv is true when no write holds revision rv; the lock it takes is
-- held until the caller's transaction ends.
CREATE FUNCTION sluice.try_lock_rv(rv bigint) RETURNS boolean
	LANGUAGE sql VOLATILE STRICT
	AS $$ SELECT pg_try_advisory_xact_lock(sluice.rv_lock_key1(rv), sluice.rv_lock_key2(rv)) $$;
