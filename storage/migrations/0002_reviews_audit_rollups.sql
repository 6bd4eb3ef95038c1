-- socialwatch storage schema, version 2: review actions, the audit log, and
-- the rollups dashboards read. Runs on ClickHouse 18.16 and current ClickHouse.
-- Rollups are materialized views into SummingMergeTree tables: each insert
-- into events or flags adds its per-hour counts; merges add rows with the same
-- key together, so readers always sum() (docs/storage.md, "Rollups").

CREATE TABLE IF NOT EXISTS {database}.review_actions
(
    review_id UUID COMMENT 'Stable id of the action, chosen by the review application, so a retried write collapses',
    flag_id UUID COMMENT 'The flag reviewed (flags.flag_id)',
    event_id UUID COMMENT 'The flagged event (events.event_id)',
    time DateTime('UTC') COMMENT 'When the reviewer acted',
    reviewer String COMMENT 'District account of the counselor or administrator',
    action String COMMENT 'opened, acknowledged, dismissed, escalated, reported (a mandated report was filed), note',
    note String COMMENT 'What the reviewer wrote about the flag'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (flag_id, time, review_id);

CREATE TABLE IF NOT EXISTS {database}.audit_log
(
    audit_id UUID COMMENT 'Stable id of the entry, so a retried write collapses',
    time DateTime('UTC') COMMENT 'When it happened',
    actor String COMMENT 'District account, or the socialwatch component (writer, retention, migrate)',
    action String COMMENT 'What was done: view_flag, export, review, retention, migrate, ...',
    object String COMMENT 'What it was done to: a flag id, a table, a partition',
    detail String COMMENT 'One human sentence with the particulars'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, audit_id);

CREATE TABLE IF NOT EXISTS {database}.activity_hourly
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

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.activity_hourly_mv TO {database}.activity_hourly
AS SELECT
    toStartOfHour(time) AS hour, school, platform, action, count() AS events, sum(flagged) AS flagged,
    sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes
FROM {database}.events
GROUP BY hour, school, platform, action;

CREATE TABLE IF NOT EXISTS {database}.flags_hourly
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

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.flags_hourly_mv TO {database}.flags_hourly
AS SELECT toStartOfHour(time) AS hour, school, category, severity, count() AS flags
FROM {database}.flags
GROUP BY hour, school, category, severity;
