"""Retention on both back ends: whole old months dropped, the straddling month trimmed,
TTL where the server has it, and a dry run that lists the same and changes nothing."""

from __future__ import annotations

import dataclasses
import datetime
import time
import uuid

import pytest
from socialwatch.classifier.flags import Flag, Match
from socialwatch.storage import StorageError, open_storage
from socialwatch.storage.retention import apply_retention, retention_plan

from socialwatch.cli import main
from socialwatch.events import ActivityEvent

UTC = datetime.UTC
NOW = datetime.datetime.now(UTC).replace(microsecond=0)
AGES = (400, 200, 95, 85, 1)
"""Days before NOW of the test events; with 90 days kept, the first three go."""
FLAG = Flag("self_harm", "high", 2.0, 1.0, (Match("i want to die", "self_harm", "ideation", "high", 2.0, 0, 13),),
            "'i want to die' (2.0) >= 1.0")


def event(age_days: int) -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.uuid4(), time=NOW - datetime.timedelta(days=age_days), device="10.0.0.1", person="",
        platform="instagram", host="www.instagram.com", method="POST", path="/p", action="comment",
        status=200, request_bytes=1, response_bytes=1, text="i want to die",
    )


@pytest.fixture
def store(fresh_store):
    fresh_store.migrate()
    fresh_store.write([(event(age), [FLAG]) for age in AGES])
    return fresh_store


def ages_left(store, table: str) -> list[int]:
    rows = store.query(f"SELECT toUInt32(time) AS t FROM {{database}}.{table} FINAL ORDER BY t")
    return sorted(round((NOW.timestamp() - row["t"]) / 86400) for row in rows)


def wait_for_ages(store, table: str, expected: list[int], timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout  # deletions are mutations, done in the background on a server
    while (left := ages_left(store, table)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_a_dry_run_lists_what_would_go_and_changes_nothing(store):
    plan = retention_plan(store, {"events": 90, "flags": 365}, NOW)
    events = [step for step in plan if step.table == "events" and step.action != "set_ttl"]
    assert sum(step.rows for step in events) == 3
    oldest_month = (NOW - datetime.timedelta(days=400)).strftime("%Y%m")
    assert [s.action for s in events if s.partition == oldest_month] == ["drop_partition"]
    flags = [step for step in plan if step.table == "flags" and step.action != "set_ttl"]
    assert sum(step.rows for step in flags) == 1
    ttl = [step.table for step in plan if step.action == "set_ttl"]
    assert ttl == ([] if store.query("SELECT version() AS v")[0]["v"].startswith("18.") else ["events", "flags"])
    assert ages_left(store, "events") == sorted(AGES)
    assert all(str(step) for step in plan)


def test_retention_removes_exactly_what_is_older_than_the_cutoff(store):
    apply_retention(store, retention_plan(store, {"events": 90, "flags": 365}, NOW))
    assert wait_for_ages(store, "events", [1, 85]) == [1, 85]
    assert wait_for_ages(store, "flags", [1, 85, 95, 200]) == [1, 85, 95, 200]
    # A second run right after finds nothing more to remove.
    left = [s for s in retention_plan(store, {"events": 90, "flags": 365}, NOW) if s.action != "set_ttl"]
    assert left == []


def test_unknown_tables_and_naive_times_are_refused(store):
    with pytest.raises(StorageError, match="unknown table"):
        retention_plan(store, {"schema_migrations": 1}, NOW)
    with pytest.raises(StorageError, match="timezone-aware"):
        retention_plan(store, {"events": 1}, NOW.replace(tzinfo=None))


def test_the_command_runs_the_configured_policy(clickhouse_server, tmp_path, capsys):
    url = clickhouse_server.url_for(f"retcli_{uuid.uuid4().hex[:8]}")
    store = open_storage(url)
    store.migrate()
    store.write([(event(age), [FLAG]) for age in AGES])
    config = tmp_path / "socialwatch.toml"
    config.write_text("[retention]\nactivity_days = 90\nflagged_content_days = 150\n")
    assert main(["db", "retention", "--dry-run", "--config", str(config), "--storage-url", url]) == 0
    out = capsys.readouterr().out
    assert "would apply" in out and "(dry run) events: drop partition" in out and "(dry run) flags:" in out
    assert ages_left(store, "events") == sorted(AGES)
    assert main(["db", "retention", "--config", str(config), "--storage-url", url]) == 0
    assert "applied" in capsys.readouterr().out
    assert wait_for_ages(store, "events", [1, 85]) == [1, 85]
    assert wait_for_ages(store, "flags", [1, 85, 95]) == [1, 85, 95]
    store.close()


def test_professional_activity_is_kept_for_its_own_period(store):
    """Staff and approved district accounts: public records, kept longer than students' activity."""
    store.write([(dataclasses.replace(event(age), professional=True), []) for age in (400, 200, 95)])
    days = {"events": 90, "events_professional": 365, "flags": 365}
    plan = retention_plan(store, days, NOW)
    oldest_month = (NOW - datetime.timedelta(days=400)).strftime("%Y%m")
    assert [s.action for s in plan if s.table == "events" and s.partition == oldest_month] == ["drop_partition"]
    deletes = [s for s in plan if s.action == "delete_rows" and s.table == "events"]
    assert deletes and all(s.kinds == ("events",) for s in deletes), "only students' rows are trimmed"
    apply_retention(store, plan)
    students = "SELECT toUInt32(time) AS t FROM {database}.events FINAL WHERE professional = 0"
    staff = "SELECT toUInt32(time) AS t FROM {database}.events FINAL WHERE professional = 1"

    def ages(sql: str) -> list[int]:
        return sorted(round((NOW.timestamp() - row["t"]) / 86400) for row in store.query(sql))

    deadline = time.monotonic() + 20
    while ages(students) != [1, 85] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (ages(students), ages(staff)) == ([1, 85], [95, 200])
    if "ttl" in store.server_features():
        [created] = store.query("SELECT create_table_query AS sql FROM system.tables"
                                " WHERE database = {db:String} AND name = 'events'", {"db": store.database})
        assert "TTL multiIf(professional = 0, time + toIntervalDay(90), time + toIntervalDay(365))" in created["sql"]
