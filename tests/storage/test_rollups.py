"""Review actions, the audit log and the dashboard rollups, on both back ends."""

from __future__ import annotations

import datetime
import uuid

import pytest
from socialwatch.classifier.flags import Flag, Match
from socialwatch.storage import StorageError

from socialwatch.events import ActivityEvent

UTC = datetime.UTC
HOUR = datetime.datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
FLAG = Flag("self_harm", "high", 2.0, 1.0, (Match("i want to die", "self_harm", "ideation", "high", 2.0, 0, 13),),
            "'i want to die' (2.0) >= 1.0")


def event(minute: int, school: str, platform: str, action: str, text: str = "") -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.uuid4(), time=HOUR + datetime.timedelta(minutes=minute), device="10.0.0.1", person="",
        platform=platform, host=f"www.{platform}.com", method="POST", path="/p", action=action, status=200,
        request_bytes=10, response_bytes=100, school=school, text=text,
    )


@pytest.fixture
def store(fresh_store):
    fresh_store.migrate()
    return fresh_store


def test_rollups_count_activity_and_flags_per_hour_school_platform_and_action(store):
    store.write([
        (event(1, "north", "instagram", "comment", "i want to die"), [FLAG]),
        (event(2, "north", "instagram", "comment"), []),
        (event(59, "north", "tiktok", "view"), []),
        (event(61, "south", "instagram", "comment", "i want to die"), [FLAG]),
    ])
    store.write([(event(3, "north", "instagram", "comment"), [])])  # a second insert: merged by sum()
    activity = store.query(
        "SELECT toString(hour) AS hour, school, platform, action, sum(events) AS events, sum(flagged) AS flagged,"
        " sum(request_bytes) AS request_bytes FROM {database}.activity_hourly"
        " GROUP BY hour, school, platform, action ORDER BY hour, school, platform")
    assert activity == [
        {"hour": "2026-03-14 15:00:00", "school": "north", "platform": "instagram", "action": "comment",
         "events": 3, "flagged": 1, "request_bytes": 30},
        {"hour": "2026-03-14 15:00:00", "school": "north", "platform": "tiktok", "action": "view",
         "events": 1, "flagged": 0, "request_bytes": 10},
        {"hour": "2026-03-14 16:00:00", "school": "south", "platform": "instagram", "action": "comment",
         "events": 1, "flagged": 1, "request_bytes": 10},
    ]
    flags = store.query(
        "SELECT toString(hour) AS hour, school, category, severity, sum(flags) AS flags FROM {database}.flags_hourly"
        " GROUP BY hour, school, category, severity ORDER BY hour")
    assert flags == [
        {"hour": "2026-03-14 15:00:00", "school": "north", "category": "self_harm", "severity": "high", "flags": 1},
        {"hour": "2026-03-14 16:00:00", "school": "south", "category": "self_harm", "severity": "high", "flags": 1},
    ]


def test_a_batch_written_again_after_an_unknown_outcome_is_counted_once_in_the_rollups(store):
    """The writer retries and replays with write_missing: a first attempt that landed
    (its answer lost) leaves nothing for the retry to add, so the views see each row once."""
    batch = [(event(1, "north", "instagram", "comment", "i want to die"), [FLAG]),
             (event(2, "north", "instagram", "comment"), [])]
    store.write(batch)
    assert store.write_missing(batch) == (0, 0)
    [activity] = store.query("SELECT sum(events) AS events, sum(flagged) AS flagged FROM {database}.activity_hourly")
    [flags] = store.query("SELECT sum(flags) AS flags FROM {database}.flags_hourly")
    assert (activity["events"], activity["flagged"], flags["flags"]) == (2, 1, 1)


def test_rollups_hold_no_text_device_or_user(store):
    store.write([(event(1, "north", "instagram", "comment", "i want to die"), [FLAG])])
    for table in ("activity_hourly", "flags_hourly"):
        columns = {row["name"] for row in store.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
            {"db": store.database, "t": table})}
        assert not columns & {"text", "device", "person", "event_id", "host", "path"}, table


def test_review_actions_and_audit_entries_are_kept_once(store):
    review = (uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), HOUR, "counselor.jones", "status", "called parent",
              "escalated", "", 1)
    audit = (uuid.uuid4(), HOUR, "counselor.jones", "view_flag", str(review[1]), "opened the flag")
    for _ in range(2):  # a retried write
        store.append("review_actions", [review])
        store.append("audit_log", [audit])
    with pytest.raises(StorageError, match="not one of"):
        store.append("events", [review])
    [row] = store.query("SELECT reviewer, action, note, status, toString(flag_id) AS flag FROM {database}.review_actions FINAL")
    assert row == {"reviewer": "counselor.jones", "action": "status", "note": "called parent", "status": "escalated",
                   "flag": str(review[1])}
    assert store.query("SELECT count() AS n FROM {database}.audit_log FINAL") == [{"n": 1}]
