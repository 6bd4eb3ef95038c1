-- socialwatch storage schema, version 6: what newer servers do better.
-- A statement after a "-- requires: FEATURE" line runs only on a server that has
-- FEATURE (storage/features.py); migrate() runs it later, once, if the server
-- gains the feature in an upgrade. Nothing here changes a sort key or what a
-- reader sees: smaller columns, compressed text, copies stopped at insert.
-- Per (migration, feature): what was applied, so an upgrade applies the rest.

CREATE TABLE IF NOT EXISTS {database}.schema_features
(
    version UInt32 COMMENT 'Migration whose gated statements were applied',
    feature String COMMENT 'Server feature they required (storage/features.py)',
    applied_at DateTime('UTC') COMMENT 'When migrate() applied them'
)
ENGINE = MergeTree
ORDER BY (version, feature);

-- Few distinct values per column: dictionary-encoded. Sort-key columns stay as they are.
-- requires: low_cardinality
ALTER TABLE {database}.events
    MODIFY COLUMN platform LowCardinality(String),
    MODIFY COLUMN method LowCardinality(String),
    MODIFY COLUMN action LowCardinality(String),
    MODIFY COLUMN source LowCardinality(String),
    MODIFY COLUMN protocol LowCardinality(String),
    MODIFY COLUMN school LowCardinality(String),
    MODIFY COLUMN age_band LowCardinality(String);

-- requires: low_cardinality
ALTER TABLE {database}.flags
    MODIFY COLUMN platform LowCardinality(String),
    MODIFY COLUMN action LowCardinality(String),
    MODIFY COLUMN school LowCardinality(String),
    MODIFY COLUMN age_band LowCardinality(String),
    MODIFY COLUMN severity LowCardinality(String);

-- The flagged text and its explanation are the largest columns: stronger compression.
-- requires: codecs
ALTER TABLE {database}.flags
    MODIFY COLUMN text String CODEC(ZSTD(3)),
    MODIFY COLUMN explanation String CODEC(ZSTD(3));

-- requires: codecs
ALTER TABLE {database}.events
    MODIFY COLUMN host String CODEC(ZSTD(1)),
    MODIFY COLUMN path String CODEC(ZSTD(1));

-- A block inserted again (the writer's retry of an insert whose answer was lost,
-- in the instant before its lookup could see it) is dropped at insert.
-- requires: dedup_window
ALTER TABLE {database}.events MODIFY SETTING non_replicated_deduplication_window = 1000;

-- requires: dedup_window
ALTER TABLE {database}.flags MODIFY SETTING non_replicated_deduplication_window = 1000;
