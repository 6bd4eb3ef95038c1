-- socialwatch storage schema, version 3: the review workflow's state.
-- One statement, so the migration applies entirely or not at all (18.16 has no
-- ADD COLUMN IF NOT EXISTS). A flag's current status is the status of its
-- latest review action that set one (argMax over sequence), 'new' without any.

ALTER TABLE {database}.review_actions
    ADD COLUMN status String DEFAULT '' COMMENT 'Status the action set: in_review, escalated, resolved, false_positive, new, empty when unchanged',
    ADD COLUMN assignee String DEFAULT '' COMMENT 'Counselor the flag was assigned to by this action, empty when unchanged',
    ADD COLUMN sequence UInt64 DEFAULT 0 COMMENT 'Microseconds since the epoch: orders actions within one second';
