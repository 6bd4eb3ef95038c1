-- socialwatch database users and their rights, for ClickHouse servers with SQL access control.
-- Written for 24.8 and later. ClickHouse 18.16 has none of this: there, use
-- deploy/clickhouse/users.d/socialwatch.xml. docs/storage.md, "Least privilege", says what each
-- user may do and what was tested where.
--
-- Tested: every statement parses with the ClickHouse 26.9 parser embedded in chDB, and every
-- table named exists after migrate() (tests/storage/test_least_privilege.py). NOT tested: running
-- it on a real server and the refusals that follow, since no current server runs in the tests.
--
-- Before running it, replace each SHA256_HEX_OF_... placeholder with the SHA-256 (hex) of that
-- user's password:   printf '%s' "$password" | sha256sum | cut -d' ' -f1
-- Run it as a user with access management (a placeholder left in is not a valid hash):
--   clickhouse-client --user default --ask-password --multiquery < grants.sql
-- then run socialwatch db migrate as socialwatch_admin, and give the default user a password
-- or remove it (deploy/clickhouse/users.d/socialwatch.xml shows how to remove it).
--
-- Running it again resets each role to exactly the rights below. Users are created once: change
-- a password with ALTER USER name IDENTIFIED WITH sha256_hash BY 'hex'.
--
-- Materialized views: migrate() creates them as socialwatch_admin, and on 24.4 and later a
-- materialized view created without SQL SECURITY runs with its creator's rights (DEFINER is
-- the documented default), so the writer's INSERT into events and flags needs no right on the
-- rollups. Older servers with SQL access control (before 24.4) also require, of whoever
-- inserts, INSERT on every rollup table and SELECT on events and flags, which would let the
-- writer read what students wrote: upgrade rather than grant that.
--
-- The databases are the storage url's (socialwatch) and migration 0005's
-- (socialwatch_dashboards): with another storage database, change both names.

CREATE ROLE IF NOT EXISTS socialwatch_role_admin;
CREATE ROLE IF NOT EXISTS socialwatch_role_writer;
CREATE ROLE IF NOT EXISTS socialwatch_role_review;
CREATE ROLE IF NOT EXISTS socialwatch_role_dashboards;

REVOKE ALL ON *.* FROM socialwatch_role_admin;
REVOKE ALL ON *.* FROM socialwatch_role_writer;
REVOKE ALL ON *.* FROM socialwatch_role_review;
REVOKE ALL ON *.* FROM socialwatch_role_dashboards;

-- socialwatch db migrate, retention and repair-rollups: the owner of both databases (CREATE,
-- ALTER including DELETE, DROP PARTITION and MODIFY TTL, INSERT into schema_migrations).
GRANT ALL ON socialwatch.* TO socialwatch_role_admin;
GRANT ALL ON socialwatch_dashboards.* TO socialwatch_role_admin;

-- socialwatch run and socialwatch sensor: insert events and flags; read schema_migrations and
-- schema_features, which migrate() does at start-up to find the schema up to date; and read
-- the ids (with the sort-key columns that find them) of events and flags, which a retry or a
-- spool replay looks up to write only what is not stored yet, noting in rollup_checks the
-- hours of what it found (for socialwatch db repair-rollups, run as the admin). Nothing else:
-- the writer cannot read what students wrote, nor who did what.
GRANT INSERT ON socialwatch.events TO socialwatch_role_writer;
GRANT INSERT ON socialwatch.flags TO socialwatch_role_writer;
GRANT INSERT ON socialwatch.rollup_checks TO socialwatch_role_writer;
GRANT SELECT(event_id, device, time) ON socialwatch.events TO socialwatch_role_writer;
GRANT SELECT(flag_id, category, time) ON socialwatch.flags TO socialwatch_role_writer;
GRANT SELECT ON socialwatch.schema_migrations TO socialwatch_role_writer;
GRANT SELECT ON socialwatch.schema_features TO socialwatch_role_writer;

-- socialwatch review: reads flags, the events around them, the review history, the audit log,
-- alerts, suppressions and activity_hourly (the activity log), and schema_migrations and
-- schema_features (start-up and the health page), and appends to review_actions, audit_log, alerts and suppressions. It
-- cannot change or delete a row: every table it writes is append-only.
GRANT SELECT ON socialwatch.events TO socialwatch_role_review;
GRANT SELECT ON socialwatch.flags TO socialwatch_role_review;
GRANT SELECT ON socialwatch.review_actions TO socialwatch_role_review;
GRANT SELECT ON socialwatch.audit_log TO socialwatch_role_review;
GRANT SELECT ON socialwatch.alerts TO socialwatch_role_review;
GRANT SELECT ON socialwatch.suppressions TO socialwatch_role_review;
GRANT SELECT ON socialwatch.activity_hourly TO socialwatch_role_review;
GRANT SELECT ON socialwatch.schema_migrations TO socialwatch_role_review;
GRANT SELECT ON socialwatch.schema_features TO socialwatch_role_review;
GRANT INSERT ON socialwatch.review_actions TO socialwatch_role_review;
GRANT INSERT ON socialwatch.audit_log TO socialwatch_role_review;
GRANT INSERT ON socialwatch.alerts TO socialwatch_role_review;
GRANT INSERT ON socialwatch.suppressions TO socialwatch_role_review;

-- Grafana: the hourly rollups, read only. readonly = 1 also refuses SET and table functions.
-- Grafana's ClickHouse data source sets max_execution_time on every query, hence the exception.
GRANT SELECT ON socialwatch_dashboards.activity_hourly TO socialwatch_role_dashboards;
GRANT SELECT ON socialwatch_dashboards.flags_hourly TO socialwatch_role_dashboards;
ALTER ROLE socialwatch_role_dashboards SETTINGS readonly = 1, max_execution_time = 60 CHANGEABLE_IN_READONLY;

-- The users: loopback only, as in the 18.16 file. Add Grafana's address to socialwatch_dashboards
-- where Grafana runs on another machine.
CREATE USER IF NOT EXISTS socialwatch_admin
    IDENTIFIED WITH sha256_hash BY 'SHA256_HEX_OF_THE_ADMIN_PASSWORD' HOST IP '127.0.0.1', IP '::1';
CREATE USER IF NOT EXISTS socialwatch_writer
    IDENTIFIED WITH sha256_hash BY 'SHA256_HEX_OF_THE_WRITER_PASSWORD' HOST IP '127.0.0.1', IP '::1';
CREATE USER IF NOT EXISTS socialwatch_review
    IDENTIFIED WITH sha256_hash BY 'SHA256_HEX_OF_THE_REVIEW_PASSWORD' HOST IP '127.0.0.1', IP '::1';
CREATE USER IF NOT EXISTS socialwatch_dashboards
    IDENTIFIED WITH sha256_hash BY 'SHA256_HEX_OF_THE_DASHBOARDS_PASSWORD' HOST IP '127.0.0.1', IP '::1';

GRANT socialwatch_role_admin TO socialwatch_admin;
GRANT socialwatch_role_writer TO socialwatch_writer;
GRANT socialwatch_role_review TO socialwatch_review;
GRANT socialwatch_role_dashboards TO socialwatch_dashboards;
