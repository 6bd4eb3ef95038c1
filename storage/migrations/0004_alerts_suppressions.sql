-- socialwatch storage schema, version 4: alert deliveries and suppression proposals.

CREATE TABLE IF NOT EXISTS {database}.alerts
(
    alert_id UUID COMMENT 'uuid5 of flag, level and channel: a retried delivery collapses',
    flag_id UUID COMMENT 'The flag alerted on (flags.flag_id)',
    time DateTime('UTC') COMMENT 'When the notification was sent (or failed)',
    school String COMMENT 'School whose on-call list was used',
    level UInt8 COMMENT 'Escalation level: 0 is the first contact, 1 the next, ...',
    contact String COMMENT 'E-mail address or webhook name notified',
    channel String COMMENT 'email or webhook',
    outcome String COMMENT 'sent, or failed: with the reason (never student content)'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (flag_id, level, channel, alert_id);

CREATE TABLE IF NOT EXISTS {database}.suppressions
(
    suppression_id UUID COMMENT 'Stable id of the proposal, later rows with a higher sequence replace earlier ones',
    sequence UInt64 COMMENT 'Microseconds since the epoch of this version of the proposal',
    time DateTime('UTC') COMMENT 'When this version was written',
    flag_id UUID COMMENT 'The false-positive flag the proposal came from',
    category String COMMENT 'Category the suppression applies to',
    phrase String COMMENT 'Lexicon phrase that is not to count',
    context String COMMENT 'Word or phrase which, present in the same text, cancels the phrase',
    proposed_by String COMMENT 'Counselor who marked the false positive',
    status String COMMENT 'proposed, accepted or rejected',
    decided_by String COMMENT 'Administrator who accepted or rejected it, empty while proposed',
    note String COMMENT 'Why, in the reviewer''s words'
)
ENGINE = ReplacingMergeTree(sequence)
ORDER BY suppression_id;
