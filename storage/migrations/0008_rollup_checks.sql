-- socialwatch storage schema, version 8: hours whose rollups may have lost a count.
-- ClickHouse writes an insert's block to events (or flags), then to each materialized
-- view's table, each a commit of its own: a server killed between the two keeps the rows
-- and loses their count in the rollups. The writer notes here the hours of rows a retry or
-- a spool replay found already stored; socialwatch db repair-rollups compares those hours'
-- rollups with events and flags and adds what is missing, then notes the hour checked
-- (storage/rollup_repair.py, docs/storage.md "Exactly once").

CREATE TABLE IF NOT EXISTS {database}.rollup_checks
(
    hour DateTime('UTC') COMMENT 'Start of the hour (UTC) to check',
    kind String COMMENT 'noted (by a writer) or checked (by the repair, as of at)',
    at DateTime('UTC') DEFAULT now() COMMENT 'When, by the server clock'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, at);
