"""The rollup repair, on both back ends: counts a crash took from the rollups come back.

A server killed between an insert's table and its materialized views keeps the rows and
loses their count. Here that loss is made on purpose: the views are detached while a
batch is written, then attached again, which leaves exactly what the crash leaves.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from socialwatch.classifier.flags import Flag, Match
from socialwatch.events import ActivityEvent
from socialwatch.storage import StorageError, open_storage
from socialwatch.storage.rollup_repair import Repair, pending_hours, repair_rollups

UTC = datetime.UTC
HOUR = datetime.datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
NEXT_HOUR = HOUR + datetime.timedelta(hours=1)
FLAG = Flag("bullying", "medium", 1.0, 1.0, (Match("nobody likes you", "bullying", "exclusion", "medium", 1.0, 0, 16),),
            "'nobody likes you' (1.0) >= 1.0")
VIEWS = ("activity_hourly_mv", "flags_hourly_mv", "activity_hourly_dashboards_mv", "flags_hourly_dashboards_mv")
BIN = Path(sys.executable).parent
ROLLUPS = {"activity_hourly": ("events", "flagged", "request_bytes"), "flags_hourly": ("flags",)}


def event(minute: int, school: str = "north", platform: str = "instagram") -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.uuid4(), time=HOUR + datetime.timedelta(minutes=minute), device="10.0.0.1", person="",
        platform=platform, host=f"www.{platform}.com", method="POST", path="/p", action="comment", status=200,
        request_bytes=10, response_bytes=100, school=school, text="nobody likes you" if minute % 3 == 0 else "",
    )


def batch_of(*minutes: int, **where) -> list:
    events = [event(minute, **where) for minute in minutes]
    return [(e, [FLAG] if e.text else []) for e in events]


@pytest.fixture
def store(fresh_store):
    fresh_store.migrate()
    return fresh_store


def written_without_views(store, batch, views=VIEWS) -> None:
    """Write `batch` with `views` detached: the rows are stored, their counts are not."""
    for view in views:
        store.execute(f"DETACH TABLE {{database}}.{view}")
    try:
        store.write(batch)
    finally:
        for view in views:
            store.execute(f"ATTACH TABLE {{database}}.{view}")


def rollups(store) -> dict:
    """Every rollup's sums, in the database and its dashboards copy."""
    sums = {}
    for database in ("{database}", "{database}_dashboards"):
        for table, columns in ROLLUPS.items():
            [row] = store.query(f"SELECT {', '.join(f'sum({c}) AS {c}' for c in columns)} FROM {database}.{table}")
            sums[database.replace("{database}", "db"), table] = row
    return sums


def truth(store) -> dict:
    """What the rollups must say: the sums over events and flags, each row once."""
    [events] = store.query("SELECT count() AS events, sum(flagged) AS flagged, sum(request_bytes) AS request_bytes"
                           " FROM {database}.events FINAL")
    [flags] = store.query("SELECT count() AS flags FROM {database}.flags FINAL")
    return {(database, table): row for database in ("db", "db_dashboards")
            for table, row in (("activity_hourly", events), ("flags_hourly", flags))}


def test_counts_lost_between_a_table_and_its_views_are_added_back(store):
    store.write(batch_of(1, 2))                           # counted as usual
    lost = batch_of(3, 4, 5, 6, 62, 63)                   # two hours
    written_without_views(store, lost)
    assert rollups(store) != truth(store)                 # what a crash between table and views leaves

    assert store.write_missing(lost) == (0, 0)            # the retry finds every row stored ...
    assert pending_hours(store) == [HOUR, NEXT_HOUR]      # ... and notes their hours

    repairs, busy = repair_rollups(store, settle=1.0)
    assert busy == []
    assert rollups(store) == truth(store)
    assert {(r.database, r.table, r.hour) for r in repairs} == {
        (database, table, hour) for database in (store.database, f"{store.database}_dashboards")
        for table in ROLLUPS for hour in (HOUR, NEXT_HOUR)}
    assert pending_hours(store) == []
    assert repair_rollups(store, settle=1.0) == ([], [])  # checked hours are not read again


def test_a_view_that_kept_its_count_gets_nothing_added(store):
    lost = batch_of(3, 6, 9)
    written_without_views(store, lost, views=("flags_hourly_dashboards_mv",))
    store.write_missing(lost)

    repairs, _ = repair_rollups(store, settle=1.0)
    assert [(r.database, r.table, r.added) for r in repairs] == [
        (f"{store.database}_dashboards", "flags_hourly", {"flags": 3})]
    assert rollups(store) == truth(store)


def test_a_batch_stored_once_notes_no_hour(store):
    store.write(batch_of(1, 3))
    assert store.write_missing(batch_of(4, 6)) == (2, 1)  # nothing of it was stored before
    assert store.query("SELECT count() AS n FROM {database}.rollup_checks") == [{"n": 0}]
    assert repair_rollups(store, settle=1.0) == ([], [])


def test_a_writer_that_cannot_note_hours_still_writes_its_batch_and_says_so(store, caplog):
    # A writer user from an earlier grants.sql may not insert into rollup_checks (here the table
    # is gone): its events matter more than the rollups' accuracy.
    stored = batch_of(1, 2)
    store.write(stored)
    store.execute("DROP TABLE {database}.rollup_checks")
    assert store.write_missing([*stored, *batch_of(4)]) == (1, 0)
    assert store.query("SELECT count() AS n FROM {database}.events FINAL") == [{"n": 3}]
    assert "cannot note 1 hour(s) for the rollup repair" in caplog.text
    assert "the dashboards may undercount them" in caplog.text


def test_an_hour_whose_counts_move_while_read_is_left_for_the_next_run(store):
    lost = batch_of(3, 4)
    written_without_views(store, lost)
    store.write_missing(lost)

    # A writer goes on writing that hour while the repair reads it: its counts in the
    # table and in the rollups move, so no difference read then can be trusted.
    done = threading.Event()

    def keep_writing():
        while not done.is_set():
            store.write(batch_of(9))
            time.sleep(0.05)

    writing = threading.Thread(target=keep_writing)
    writing.start()
    try:
        repairs, busy = repair_rollups(store, settle=1.0)
    finally:
        done.set()
        writing.join()
    assert (repairs, busy) == ([], [HOUR])
    assert pending_hours(store) == [HOUR]

    repairs, busy = repair_rollups(store, settle=1.0)     # the hour is quiet now
    assert busy == [] and repairs
    assert rollups(store) == truth(store)


def test_a_rollup_above_its_events_is_left_alone(store):
    # Retention deletes events and keeps their counts; a copy counted twice also leaves the
    # rollup above the events. The repair only adds, so it changes neither.
    batch = batch_of(1, 3)
    store.write(batch)
    store.add_to_rollup(store.database, "flags_hourly", [(HOUR, "north", "bullying", "medium", 5)])
    before = rollups(store)
    store.write_missing(batch)

    assert repair_rollups(store, settle=1.0) == ([], [])
    assert rollups(store) == before
    assert pending_hours(store) == []


@pytest.mark.parametrize("database, table", [("{db}", "events"), ("{db}", "audit_log"), ("system", "flags_hourly")])
def test_counts_are_added_to_the_rollups_alone(store, database, table):
    with pytest.raises(StorageError, match="is not a rollup"):
        store.add_to_rollup(database.replace("{db}", store.database), table, [])


def test_the_command_repairs_and_says_what_it_added(clickhouse_server):
    """`socialwatch db repair-rollups`, what socialwatch-rollups.timer runs, on a real server."""
    url = clickhouse_server.url_for(f"repair_{uuid.uuid4().hex[:8]}")
    store = open_storage(url)
    try:
        store.migrate()
        lost = batch_of(3, 4)
        written_without_views(store, lost, views=("activity_hourly_mv",))
        store.write_missing(lost)
        result = subprocess.run([str(BIN / "socialwatch"), "db", "repair-rollups", "--storage-url", url,
                                 "--settle", "1"], capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.splitlines()[1:] == [
            f"  {store.database}.activity_hourly 2026-03-14 15:00 north / instagram / comment:"
            " events +2, flagged +1, request_bytes +20, response_bytes +200"]
        assert "1 rollup row(s) repaired" in result.stdout.splitlines()[0]
        assert rollups(store) == truth(store)
    finally:
        store.close()


def test_a_repair_reads_as_one_line_per_rollup_row():
    repair = Repair("socialwatch", "flags_hourly", HOUR, ("", "bullying", "medium"), {"flags": 3})
    assert str(repair) == "socialwatch.flags_hourly 2026-03-14 15:00 - / bullying / medium: flags +3"
