"""Newer servers' features, detected from the server and used where it has them.

Debian's ClickHouse 18.16 has none of them (LowCardinality is there but experimental);
chDB embeds a current ClickHouse and has all. Migration 0006 gates each statement on
one feature; a server that gains a feature (an upgrade) gets the statements at the
next migrate().
"""

from __future__ import annotations

import datetime
import uuid

import pytest
from socialwatch.storage import StorageError, backend
from socialwatch.storage.backend import Migration
from socialwatch.storage.cluster import cluster_statements
from socialwatch.storage.features import FEATURES

from socialwatch.events import ActivityEvent

ALL = frozenset(FEATURES)
LATEST = backend.load_migrations()[-1].version


@pytest.fixture
def store(fresh_store):
    return fresh_store


def columns(store, table: str) -> dict[str, str]:
    return {row["name"]: row["type"] for row in store.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        {"db": store.database, "t": table})}


def event(i: int) -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, str(i)),
        time=datetime.datetime(2026, 9, 1, 8, 0, i, tzinfo=datetime.UTC), device="10.0.0.1", person="",
        platform="instagram", host="www.instagram.com", method="POST", path="/api/v1/comments", action="comment",
        status=200, request_bytes=10, response_bytes=10, school="north",
    )


def test_features_are_read_from_the_server(store, clickhouse_server):
    [row] = store.query("SELECT version() AS v")
    if row["v"].startswith("18.16."):
        assert store.server_features() == frozenset()
    else:
        assert store.server_features() == ALL


def test_the_schema_uses_what_the_server_has(store):
    store.migrate()
    events, flags = columns(store, "events"), columns(store, "flags")
    [created] = store.query("SELECT create_table_query AS sql FROM system.tables"
                            " WHERE database = {db:String} AND name = 'flags'", {"db": store.database})
    if "low_cardinality" in store.server_features():
        assert events["platform"] == flags["severity"] == "LowCardinality(String)"
    else:
        assert events["platform"] == flags["severity"] == "String"
    assert events["device"] == "String" and flags["category"] == "String", "sort-key columns never change"
    assert ("CODEC(ZSTD(3))" in created["sql"]) == ("codecs" in store.server_features())
    assert ("non_replicated_deduplication_window = 1000" in created["sql"]) == \
        ("dedup_window" in store.server_features())
    # Comments survive MODIFY COLUMN.
    [comment] = store.query("SELECT comment FROM system.columns WHERE database = {db:String}"
                            " AND table = 'events' AND name = 'platform'", {"db": store.database})
    assert comment["comment"].startswith("Platform id")


def test_a_server_that_gains_features_gets_the_gated_statements_at_the_next_migrate(store, monkeypatch):
    monkeypatch.setattr(backend, "detect_features", lambda select: frozenset())  # as on 18.16
    store.migrate()
    assert columns(store, "events")["platform"] == "String"
    store.write([(event(1), [])])
    monkeypatch.undo()  # the server was upgraded
    status = store.schema_status()  # asks the server again
    gained = sorted(store.server_features() & {"codecs", "dedup_window", "low_cardinality"})
    assert status == (LATEST, [f"0006_server_features ({feature})" for feature in gained])
    assert store.migrate() == [f"0006_server_features ({feature})" for feature in gained]
    assert store.migrate() == []
    assert store.schema_status() == (LATEST, [])
    if gained:
        assert columns(store, "events")["platform"] == "LowCardinality(String)"
    assert store.query("SELECT platform, count() AS n FROM {database}.events GROUP BY platform") == \
        [{"platform": "instagram", "n": 1}]


def test_a_re_sent_block_is_dropped_at_insert_where_the_server_deduplicates(store):
    """The server's own deduplication keeps a re-sent block out of the tables; the
    materialized views still see it, so the rollups rely on the writer's write_missing
    (test_storage_contract.py, test_writer_faults.py), which never re-sends a stored row."""
    store.migrate()
    batch = [(event(i), []) for i in range(3)]
    store.write(batch)
    store.write(batch)  # a re-send without the lookup
    [raw] = store.query("SELECT count() AS n FROM {database}.events")
    [rolled] = store.query("SELECT sum(events) AS n FROM {database}.activity_hourly")
    if {"dedup_window", "dedup_token"} <= store.server_features():
        assert raw["n"] == 3
    else:
        assert raw["n"] == 6
    assert rolled["n"] == 6


def test_a_requires_line_names_a_known_feature_and_gates_one_statement():
    with pytest.raises(StorageError, match="unknown server feature 'json_type'"):
        Migration(9, "0009_x", "-- requires: json_type\nALTER TABLE {database}.events DROP COLUMN x;").statements("d")
    with pytest.raises(StorageError, match="one '-- requires:' line per statement"):
        Migration(9, "0009_x", "-- requires: codecs\n-- requires: ttl\nSELECT 1;").statements("d")
    migration = Migration(9, "0009_x", "CREATE DATABASE IF NOT EXISTS {database};\n"
                                       "-- a comment that says -- requires: nothing\n"
                                       "-- requires: codecs\nALTER TABLE {database}.flags MODIFY COLUMN text String CODEC(ZSTD(3));")
    assert migration.features == {"codecs"}
    assert migration.statements("d") == ["CREATE DATABASE IF NOT EXISTS d"]
    assert migration.statements("d", feature="codecs") == ["ALTER TABLE d.flags MODIFY COLUMN text String CODEC(ZSTD(3))"]


def test_on_a_cluster_storage_only_alters_go_to_the_local_tables_alone():
    statements = ["ALTER TABLE d.flags MODIFY COLUMN text String CODEC(ZSTD(3))",
                  "ALTER TABLE d.events MODIFY SETTING non_replicated_deduplication_window = 1000",
                  "ALTER TABLE d.events MODIFY COLUMN platform LowCardinality(String)"]
    assert cluster_statements(statements, "d", "c1") == [
        "ALTER TABLE d.flags_local MODIFY COLUMN text String CODEC(ZSTD(3))",
        "ALTER TABLE d.events_local MODIFY SETTING non_replicated_deduplication_window = 1000",
        "ALTER TABLE d.events_local MODIFY COLUMN platform LowCardinality(String)",
        "ALTER TABLE d.events MODIFY COLUMN platform LowCardinality(String)",
    ]
