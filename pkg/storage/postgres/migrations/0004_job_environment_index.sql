-- Field selectors on a job's spec.environment are answered from this index,
-- as those of 0002. A job without an environment has no value in fields
-- (the store leaves empty values out), so it is not in the index.
CREATE INDEX kv_field_environment ON sluice.kv ((fields->>'spec.environment'), key)
	WHERE (fields->>'spec.environment') IS NOT NULL;
