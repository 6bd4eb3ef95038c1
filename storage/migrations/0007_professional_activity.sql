-- socialwatch storage schema, version 7: professional activity apart.
-- The procedure treats the activity of professional accounts as public records,
-- kept longer than students' (retention.professional_activity_days, docs/storage.md
-- "Retention"). One statement: 18.16 has no ADD COLUMN IF NOT EXISTS.

ALTER TABLE {database}.events
    ADD COLUMN professional UInt8 DEFAULT 0 COMMENT '1 for district staff (roster role) or an account on the approved-accounts registry: public records, kept for retention.professional_activity_days';
