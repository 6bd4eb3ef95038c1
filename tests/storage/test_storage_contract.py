"""The storage contract, run against both backends.

``clickhouse``: a fresh database per test on the real ClickHouse 18.16 server
(running in America/Chicago, see support/clickhouse_server.py).
``chdb``: a fresh directory per test; each store is closed at teardown,
because chDB binds a process to one directory at a time.
"""

from __future__ import annotations

import datetime
import json
import socket
import threading
import uuid

import pytest

from socialwatch.classifier.flags import Flag, Match
from socialwatch.events import ActivityEvent
from socialwatch.storage import StorageError, open_storage, redact_url
from socialwatch.storage.chdb_embedded import parse_chdb_url
from socialwatch.storage.clickhouse_native import client_side_placeholders

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
MIGRATIONS = ["0001_initial", "0002_reviews_audit_rollups", "0003_review_workflow", "0004_alerts_suppressions",
              "0005_dashboards_database", "0006_server_features", "0007_professional_activity",
              "0008_rollup_checks"]
GATED = {"codecs", "dedup_window", "low_cardinality"}
"""The server features migration 0006 has statements for."""
FLAGGED_TEXT = "nobody likes you, just go away loser. i want to disappear"
UNFLAGGED_TEXT = "see you at practice tomorrow zq7x-unflagged-marker"


def make_event(**changes) -> ActivityEvent:
    fields = dict(
        event_id=uuid.UUID("0f8e2f4c-3a51-4c1e-9d0b-6a8f3e2d1c00"), time=T0, device="10.20.30.40",
        person="s123456", platform="instagram", host="i.instagram.com", method="POST",
        path="/api/v1/direct_v2/threads/broadcast/text/", action="message", status=200,
        request_bytes=512, response_bytes=2048, text=FLAGGED_TEXT, target="340282366920938463463374607431768211455",
        school="north-high", age_band="13_17",
    )
    fields.update(changes)
    return ActivityEvent(**fields)


BULLYING = Flag(
    category="bullying", severity="medium", score=1.5, threshold=1.0,
    matches=(
        Match("nobody likes you", "bullying", "targeted_insult", "medium", 1.0, 0, 16),
        Match("loser", "bullying", "insult", "low", 0.5, 31, 36),
    ),
    explanation="'nobody likes you' (1.0) + 'loser' (0.5) = 1.5 >= 1.0",
)
SELFHARM = Flag(
    category="selfharm", severity="high", score=2.0, threshold=2.0,
    matches=(Match("i want to disappear", "selfharm", "ideation", "high", 2.0, 38, 57),),
    explanation="'i want to disappear' (2.0) = 2.0 >= 2.0",
)
FLAGGED = make_event()
UNFLAGGED = make_event(
    event_id=uuid.UUID("7d1c9a9e-52b4-4f0e-8a7e-1b2c3d4e5f60"), device="10.20.30.41", person="",
    platform="tiktok", host="www.tiktok.com", method="GET", path="/foryou", action="view",
    status=0, request_bytes=0, response_bytes=18446744073709551615, text=UNFLAGGED_TEXT,
    source="sensor", protocol="quic", target="", school="", age_band="unknown", professional=True,
)
BATCH = [(FLAGGED, [BULLYING, SELFHARM]), (UNFLAGGED, [])]


@pytest.fixture(params=["clickhouse", "chdb"])
def url(request, tmp_path) -> str:
    if request.param == "clickhouse":
        server = request.getfixturevalue("clickhouse_server")
        return server.url_for(f"sw_{uuid.uuid4().hex[:12]}")
    return f"chdb:{tmp_path / 'chdb'}"


@pytest.fixture
def store(url):
    store = open_storage(url)
    yield store
    store.close()


@pytest.fixture
def migrated(store):
    store.migrate()
    return store


def assert_rows(actual: list[dict], expected: list[dict]) -> None:
    """Equal values of equal types (2 == 2.0 would hide a backend difference)."""
    assert actual == expected
    assert [{k: type(v) for k, v in row.items()} for row in actual] == \
           [{k: type(v) for k, v in row.items()} for row in expected]


def test_migrate_is_idempotent_and_reports_status(store):
    assert store.schema_status() == (0, MIGRATIONS)
    gated = [f"0006_server_features ({feature})" for feature in sorted(GATED & store.server_features())]
    assert store.migrate() == MIGRATIONS + gated
    assert store.schema_status() == (len(MIGRATIONS), [])
    assert store.migrate() == []
    assert_rows(store.query("SELECT version, name FROM {database}.schema_migrations ORDER BY version"),
                [{"version": n, "name": name} for n, name in enumerate(MIGRATIONS, start=1)])
    tables = store.query("SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name",
                         {"db": store.database})
    assert [row["name"] for row in tables] == [
        "activity_hourly", "activity_hourly_dashboards_mv", "activity_hourly_mv", "alerts", "audit_log", "events",
        "flags", "flags_hourly", "flags_hourly_dashboards_mv", "flags_hourly_mv", "review_actions", "rollup_checks",
        "schema_features", "schema_migrations", "suppressions"]
    dashboards = store.query("SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name",
                             {"db": f"{store.database}_dashboards"})
    assert [row["name"] for row in dashboards] == ["activity_hourly", "flags_hourly"]


def test_write_stores_event_metadata_exactly(migrated):
    migrated.write(BATCH)
    rows = migrated.query("SELECT * FROM {database}.events ORDER BY device")
    common = {"time": "2026-03-14 15:09:26"}
    assert_rows(rows, [
        {"event_id": "0f8e2f4c-3a51-4c1e-9d0b-6a8f3e2d1c00", **common, "device": "10.20.30.40",
         "person": "s123456", "platform": "instagram", "host": "i.instagram.com", "method": "POST",
         "path": "/api/v1/direct_v2/threads/broadcast/text/", "action": "message", "status": 200,
         "request_bytes": 512, "response_bytes": 2048, "flagged": 1, "source": "proxy", "protocol": "https",
         "target": "340282366920938463463374607431768211455", "school": "north-high", "age_band": "13_17",
         "professional": 0},
        {"event_id": "7d1c9a9e-52b4-4f0e-8a7e-1b2c3d4e5f60", **common, "device": "10.20.30.41",
         "person": "", "platform": "tiktok", "host": "www.tiktok.com", "method": "GET", "path": "/foryou",
         "action": "view", "status": 0, "request_bytes": 0, "response_bytes": 18446744073709551615,
         "flagged": 0, "source": "sensor", "protocol": "quic", "target": "", "school": "", "age_band": "unknown",
         "professional": 1},
    ])


def test_write_stores_one_row_per_flag_with_text_and_matches(migrated):
    migrated.write(BATCH)
    rows = migrated.query("SELECT * FROM {database}.flags ORDER BY category")
    event = {"event_id": str(FLAGGED.event_id), "time": "2026-03-14 15:09:26", "device": "10.20.30.40",
             "person": "s123456", "platform": "instagram", "host": "i.instagram.com", "action": "message",
             "school": "north-high", "age_band": "13_17"}
    assert_rows(rows, [
        {"flag_id": str(uuid.uuid5(FLAGGED.event_id, "bullying")), **event, "category": "bullying",
         "severity": "medium", "score": 1.5, "threshold": 1.0, "text": FLAGGED_TEXT,
         "explanation": BULLYING.explanation, "match_phrase": ["nobody likes you", "loser"],
         "match_subcategory": ["targeted_insult", "insult"], "match_severity": ["medium", "low"],
         "match_weight": [1.0, 0.5], "match_start": [0, 31], "match_end": [16, 36]},
        {"flag_id": str(uuid.uuid5(FLAGGED.event_id, "selfharm")), **event, "category": "selfharm",
         "severity": "high", "score": 2.0, "threshold": 2.0, "text": FLAGGED_TEXT,
         "explanation": SELFHARM.explanation, "match_phrase": ["i want to disappear"],
         "match_subcategory": ["ideation"], "match_severity": ["high"], "match_weight": [2.0],
         "match_start": [38], "match_end": [57]},
    ])
    for row in rows:
        assert row["text"][row["match_start"][0]:row["match_end"][0]] == row["match_phrase"][0]


def test_text_is_stored_only_in_flags_and_only_for_flagged_events(migrated):
    migrated.write(BATCH)
    tables = migrated.query("SELECT name FROM system.tables WHERE database = {db:String}",
                            {"db": migrated.database})
    holding_flagged_text = []
    for table in (row["name"] for row in tables):
        # Every column of every row, String and Array(String) alike.
        dump = json.dumps(migrated.query(f"SELECT * FROM {{database}}.{table}"), ensure_ascii=False)
        assert UNFLAGGED_TEXT not in dump, table
        if FLAGGED_TEXT in dump:
            holding_flagged_text.append(table)
    assert holding_flagged_text == ["flags"]


def test_a_batch_written_again_after_an_unknown_outcome_adds_only_its_missing_rows(migrated):
    """write_missing: what the writer uses for a retry or a spool replay. The first
    attempt stored the events and lost the flags (not atomic across the two tables)."""
    migrated.write([(FLAGGED, [BULLYING])])  # one event of two, one of its two flags
    assert migrated.write_missing(BATCH) == (1, 1)
    assert migrated.write_missing(BATCH) == (0, 0)
    [raw] = migrated.query("SELECT count() AS events FROM {database}.events")
    [flags] = migrated.query("SELECT count() AS flags FROM {database}.flags")
    assert (raw["events"], flags["flags"]) == (2, 2)


def test_write_missing_writes_a_batch_nothing_of_which_is_stored(migrated):
    assert migrated.write_missing(BATCH) == (2, 2)
    assert migrated.query("SELECT count() AS n FROM {database}.events") == [{"n": 2}]


def test_a_retried_batch_is_seen_once(migrated):
    migrated.write(BATCH)
    migrated.write(BATCH)
    # Both inserts are kept until a background merge collapses them (ReplacingMergeTree);
    # readers that count exactly use FINAL and see each event and flag once.
    rows = migrated.query("SELECT toString(flag_id) AS id, count() AS n FROM {database}.flags FINAL"
                          " GROUP BY id ORDER BY id")
    expected_ids = sorted(str(uuid.uuid5(FLAGGED.event_id, category)) for category in ("bullying", "selfharm"))
    assert_rows(rows, [{"id": flag_id, "n": 1} for flag_id in expected_ids])
    assert migrated.query("SELECT count() AS n FROM {database}.events FINAL") == [{"n": 2}]
    [raw] = migrated.query("SELECT count() AS n FROM {database}.events")
    if "dedup_window" in migrated.server_features():
        assert raw["n"] == 2, "the server drops the re-sent block (insert_deduplication_token)"
    else:
        assert raw["n"] in (2, 4)


HOSTILE = [
    "' OR 1=1 --", "'; DROP TABLE events; --", "\\", "a\\", "\\'", "back\\slash\\n", "tab\there",
    "line\nbreak\r\n", "nul\x00byte", "%", "%(v)s", "{v:String}", "{database}", '"double"',
    "é☃ 😀 ñ 中文", "",
]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_string_parameter_round_trips(store, value):
    assert_rows(store.query("SELECT {v:String} AS v", {"v": value}), [{"v": value}])


def test_hostile_strings_match_exactly_as_parameters(migrated):
    migrated.write([(make_event(event_id=uuid.uuid4(), device=device), []) for device in HOSTILE])
    for device in HOSTILE:
        rows = migrated.query("SELECT device FROM {database}.events WHERE device = {d:String}", {"d": device})
        assert rows == [{"device": device}]
    assert migrated.query("SELECT count() AS n FROM {database}.events") == [{"n": len(HOSTILE)}]


def test_typed_parameters(migrated):
    migrated.write(BATCH)
    since = T0.replace(microsecond=0)
    count = "SELECT count() AS n FROM {database}.events WHERE time >= {since:DateTime('UTC')}"
    # The server runs in America/Chicago: a time read in the wrong zone is hours off.
    assert migrated.query(count, {"since": since}) == [{"n": 2}]
    assert migrated.query(count, {"since": since + datetime.timedelta(seconds=1)}) == [{"n": 0}]
    assert migrated.query(count, {"since": since.astimezone(datetime.timezone(datetime.timedelta(hours=-6)))}) \
        == [{"n": 2}]
    assert migrated.query(
        "SELECT category FROM {database}.flags WHERE has({categories:Array(String)}, category)"
        " AND event_id = {id:UUID} AND score >= {min_score:Float64} ORDER BY category LIMIT {n:UInt32}",
        {"categories": ["selfharm", "x'y"], "id": FLAGGED.event_id, "min_score": 2.0, "n": 5},
    ) == [{"category": "selfharm"}]
    assert migrated.query(
        "SELECT device FROM {database}.events WHERE path LIKE '%/direct_v2/%' AND status = {s:UInt16}",
        {"s": 200},
    ) == [{"device": "10.20.30.40"}]
    assert_rows(migrated.query("SELECT {t:DateTime('UTC')} AS t, {u:UUID} AS u",
                               {"t": since, "u": FLAGGED.event_id}),
                [{"t": "2026-03-14 15:09:26", "u": str(FLAGGED.event_id)}])


def test_concurrent_writers_share_one_store(migrated):
    def write_some():
        for _ in range(5):
            migrated.write([(make_event(event_id=uuid.uuid4(), text=""), [])])

    threads = [threading.Thread(target=write_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert migrated.query("SELECT count() AS n FROM {database}.events") == [{"n": 20}]


def test_write_before_migrate_fails(store):
    with pytest.raises(StorageError, match="write failed"):
        store.write(BATCH)


def test_naive_event_time_is_rejected(migrated):
    with pytest.raises(StorageError, match="naive time"):
        migrated.write([(make_event(time=T0.replace(tzinfo=None)), [])])


def test_closed_store_refuses_calls(store):
    store.close()
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.query("SELECT 1")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("password", ["s3cret-Pa55", "p%40ss%2Fw0rd"])
def test_unreachable_server_error_hides_password(password):
    store = open_storage(f"clickhouse://sw:{password}@127.0.0.1:{_closed_port()}/socialwatch?connect_timeout=2")
    for call in (store.migrate, store.schema_status, lambda: store.write(BATCH), lambda: store.query("SELECT 1")):
        with pytest.raises(StorageError) as caught:
            call()
        for text in (str(caught.value), str(caught.value.__cause__)):
            assert "s3cret" not in text and "p%40ss" not in text and "p@ss" not in text
        assert "sw:***@127.0.0.1" in str(caught.value)
    store.close()


def test_wrong_password_error_hides_password(clickhouse_server):
    store = open_storage(f"clickhouse://default:wr0ng-secret@{clickhouse_server.host}:{clickhouse_server.port}/x")
    with pytest.raises(StorageError) as caught:
        store.schema_status()
    assert "wr0ng-secret" not in str(caught.value)
    assert "wr0ng-secret" not in str(caught.value.__cause__)
    store.close()


@pytest.mark.parametrize("url", [
    "clickhouse://default:pw@127.0.0.1:9000/bad-name",
    "clickhouse://default:pw@127.0.0.1:9000/1starts_with_digit",
    "clickhouse://default:pw@127.0.0.1:9000/x;DROP DATABASE y",
    "clickhouse://default:pw@127.0.0.1:9000/" + "x" * 64,
    "chdb:/tmp/never-opened?database=a.b",
    "chdb:/tmp/never-opened?database=",
    "chdb:/tmp/never-opened?database=x%20y",
])
def test_bad_database_name_is_rejected(url):
    with pytest.raises(StorageError, match="invalid database name") as caught:
        open_storage(url)
    assert ":pw@" not in str(caught.value)


@pytest.mark.parametrize("url, message", [
    ("postgres://u:secretpw@db/x", "unsupported storage url"),
    ("chdb:", "no directory"),
    ("chdb:/tmp/x?mode=ro", "unknown option"),
])
def test_bad_urls_are_rejected(url, message):
    with pytest.raises(StorageError, match=message) as caught:
        open_storage(url)
    assert "secretpw" not in str(caught.value)


@pytest.mark.parametrize("url, expected", [
    ("clickhouse://sw:hunter2@db:9000/socialwatch", "clickhouse://sw:***@db:9000/socialwatch"),
    ("clickhouse://sw:p%40ss@db/socialwatch?secure=1", "clickhouse://sw:***@db/socialwatch?secure=1"),
    ("clickhouse://default:@127.0.0.1:9000/x", "clickhouse://default:***@127.0.0.1:9000/x"),
    ("clickhouse://sw@db:9000/socialwatch", "clickhouse://sw@db:9000/socialwatch"),
    ("chdb:///var/lib/socialwatch", "chdb:///var/lib/socialwatch"),
    ("clickhouse://sw:pw@[::1/x", "<unparseable url>"),
])
def test_redact_url(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize("url, expected", [
    ("chdb:///var/lib/sw", ("/var/lib/sw", "socialwatch")),
    ("chdb:/var/lib/sw?database=other", ("/var/lib/sw", "other")),
    ("chdb://var/sw", (None, "socialwatch")),
    ("chdb:var/sw", (None, "socialwatch")),
])
def test_parse_chdb_url(url, expected, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    path, database = parse_chdb_url(url)
    assert (path, database) == (expected[0] or str(tmp_path / "var/sw"), expected[1])


@pytest.mark.parametrize("sql, expected", [
    ("SELECT {s:String}, {n:UInt32}, {i:Int64}", "SELECT %(s)s, %(n)s, %(i)s"),
    ("WHERE time >= {since:DateTime('UTC')}", "WHERE time >= CAST(%(since)s AS DateTime('UTC'))"),
    ("WHERE has({c:Array(String)}, x)", "WHERE has(CAST(%(c)s AS Array(String)), x)"),
    ("WHERE path LIKE '%post%'", "WHERE path LIKE '%%post%%'"),
])
def test_client_side_placeholders(sql, expected):
    assert client_side_placeholders(sql) == expected


def test_chdb_uses_one_directory_per_process(tmp_path):
    first = open_storage(f"chdb:{tmp_path / 'a'}")
    with pytest.raises(StorageError, match="one chDB directory at a time"):
        open_storage(f"chdb:{tmp_path / 'b'}")
    other_database = open_storage(f"chdb:{tmp_path / 'a'}?database=other")
    assert other_database.migrate()[:len(MIGRATIONS)] == MIGRATIONS
    assert first.schema_status() == (0, MIGRATIONS)
    first.close()
    other_database.close()
    open_storage(f"chdb:{tmp_path / 'b'}").close()


def test_event_columns_are_the_event_rows_transposed():
    from socialwatch.storage.backend import event_columns, event_row

    rows = [event_row(event, bool(flags)) for event, flags in BATCH]
    assert event_columns(BATCH) == [list(column) for column in zip(*rows)]
