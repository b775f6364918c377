-- Field selectors on PipelineJobs are answered from these indexes. Each
-- serves an equality match on one field, in key order, so a paginated,
-- field-selected list is an index range scan. Rows without the field (other
-- resources) are left out of the index.
CREATE INDEX kv_field_pipeline ON sluice.kv ((fields->>'spec.pipelineRef.name'), key)
	WHERE (fields->>'spec.pipelineRef.name') IS NOT NULL;
CREATE INDEX kv_field_phase ON sluice.kv ((fields->>'status.phase'), key)
	WHERE (fields->>'status.phase') IS NOT NULL;
CREATE INDEX kv_field_trigger ON sluice.kv ((fields->>'spec.trigger.type'), key)
	WHERE (fields->>'spec.trigger.type') IS NOT NULL;
