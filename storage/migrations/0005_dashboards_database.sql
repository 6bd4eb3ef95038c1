-- socialwatch storage schema, version 5: a database of its own for what dashboards read.
-- ClickHouse 18.16 grants whole databases (allow_databases in users.xml), not tables, and
-- reads a view with the reader's rights, so a dashboards user kept off events and flags
-- can only be given a copy of the rollups in another database: {database}_dashboards.
-- Its tables are filled by materialized views of their own over events and flags (18.16
-- does not pass the rows a materialized view writes on to the views of its target table),
-- with the same columns and sums as the rollups of migration 0002, and once from those
-- rollups. Apply it with the writer stopped: events written while it runs may be counted
-- in one copy and not the other (docs/storage.md, "Least privilege").

CREATE DATABASE IF NOT EXISTS {database}_dashboards;

CREATE TABLE IF NOT EXISTS {database}_dashboards.activity_hourly
(
    hour DateTime('UTC') COMMENT 'Start of the hour (UTC)',
    school String COMMENT 'School from the roster, empty when unknown',
    platform String COMMENT 'Platform id from the catalog',
    action String COMMENT 'Coarse action',
    events UInt64 COMMENT 'Events recorded',
    flagged UInt64 COMMENT 'Of which flagged',
    request_bytes UInt64 COMMENT 'Request bytes on the wire',
    response_bytes UInt64 COMMENT 'Response bytes on the wire'
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, school, platform, action);

CREATE TABLE IF NOT EXISTS {database}_dashboards.flags_hourly
(
    hour DateTime('UTC') COMMENT 'Start of the hour (UTC)',
    school String COMMENT 'School from the roster, empty when unknown',
    category String COMMENT 'Category flagged',
    severity String COMMENT 'Severity of the flag',
    flags UInt64 COMMENT 'Flags raised'
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, category, severity, school);

INSERT INTO {database}_dashboards.activity_hourly
SELECT hour, school, platform, action, events, flagged, request_bytes, response_bytes
FROM {database}.activity_hourly
WHERE (SELECT count() FROM {database}_dashboards.activity_hourly) = 0;

INSERT INTO {database}_dashboards.flags_hourly
SELECT hour, school, category, severity, flags
FROM {database}.flags_hourly
WHERE (SELECT count() FROM {database}_dashboards.flags_hourly) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.activity_hourly_dashboards_mv TO {database}_dashboards.activity_hourly
AS SELECT
    toStartOfHour(time) AS hour, school, platform, action, count() AS events, sum(flagged) AS flagged,
    sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes
FROM {database}.events
GROUP BY hour, school, platform, action;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.flags_hourly_dashboards_mv TO {database}_dashboards.flags_hourly
AS SELECT toStartOfHour(time) AS hour, school, category, severity, count() AS flags
FROM {database}.flags
GROUP BY hour, school, category, severity;
