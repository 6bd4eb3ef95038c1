-- socialwatch storage schema, version 1.
-- Runs on ClickHouse 18.16 and on current ClickHouse (chDB): no DateTime64,
-- LowCardinality, TTL or codecs. Statements end with a semicolon and contain
-- none otherwise; {database} is replaced by the validated database name.
-- events and flags are ReplacingMergeTree with their stable id as the last
-- sort-key column: a batch written twice (a retry after a lost answer, a spool
-- replay after a crash) collapses to one row; readers that must count exactly
-- read with FINAL (docs/storage.md, "Exactly once").

CREATE DATABASE IF NOT EXISTS {database};

CREATE TABLE IF NOT EXISTS {database}.schema_migrations
(
    version UInt32 COMMENT 'Number in the migration file name',
    name String COMMENT 'Migration file name without .sql',
    applied_at DateTime('UTC') COMMENT 'When migrate() applied it'
)
ENGINE = MergeTree
ORDER BY version;

CREATE TABLE IF NOT EXISTS {database}.events
(
    event_id UUID COMMENT 'Stable event identity, so a retried insert can be recognised',
    time DateTime('UTC') COMMENT 'When the request reached the proxy, whole seconds',
    device String COMMENT 'Client IP address of the district device',
    person String COMMENT 'Pseudonymous person id (keyed hash), never a name, empty when nobody is known',
    platform String COMMENT 'Platform id from the catalog, e.g. instagram',
    host String COMMENT 'Host name the request went to',
    method String COMMENT 'HTTP method, upper case',
    path String COMMENT 'Request path without the query string',
    action String COMMENT 'Coarse action: view, post, comment, message, like, follow, upload, login, other',
    status UInt16 COMMENT 'HTTP response status, 0 when there was no response',
    request_bytes UInt64 COMMENT 'Request body size on the wire',
    response_bytes UInt64 COMMENT 'Response body size on the wire',
    flagged UInt8 COMMENT '1 when the classifier raised at least one flag (see flags)',
    source String COMMENT 'How it was seen: proxy (decrypted), passthrough (server name only) or sensor (passive)',
    protocol String COMMENT 'http, https, tls, dns or quic',
    target String COMMENT 'What the action was aimed at (post, thread, channel or recipient id), where visible',
    school String COMMENT 'School of the person, from the roster, empty when unknown',
    age_band String COMMENT 'Age band of the person: under_13, 13_17, adult or unknown'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (device, time, event_id);

CREATE TABLE IF NOT EXISTS {database}.flags
(
    flag_id UUID COMMENT 'uuid5(event_id, category): the same for a retried batch',
    event_id UUID COMMENT 'The flagged event (events.event_id)',
    time DateTime('UTC') COMMENT 'Event time, copied from events',
    device String COMMENT 'Event device, copied from events',
    person String COMMENT 'Event person (pseudonymous id), copied from events',
    platform String COMMENT 'Event platform, copied from events',
    host String COMMENT 'Event host, copied from events',
    action String COMMENT 'Event action, copied from events',
    school String COMMENT 'Event school, copied from events',
    age_band String COMMENT 'Event age band, copied from events',
    category String COMMENT 'Lexicon category flagged, e.g. bullying or self_harm',
    severity String COMMENT 'Highest severity among the matches: low, medium, high, critical',
    score Float64 COMMENT 'Sum of the category match weights',
    threshold Float64 COMMENT 'Threshold the score reached',
    text String COMMENT 'What the student wrote, stored only because the event was flagged',
    explanation String COMMENT 'One human sentence explaining the flag',
    match_phrase Array(String) COMMENT 'Per match: lexicon phrase',
    match_subcategory Array(String) COMMENT 'Per match: finer label within the category',
    match_severity Array(String) COMMENT 'Per match: severity of the phrase',
    match_weight Array(Float64) COMMENT 'Per match: weight added to the score',
    match_start Array(UInt32) COMMENT 'Per match: offset of the first character in text',
    match_end Array(UInt32) COMMENT 'Per match: offset one past the last character in text'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (category, time, flag_id);
