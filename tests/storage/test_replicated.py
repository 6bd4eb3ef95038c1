"""A replicated cluster: real ZooKeeper and two real ClickHouse 18.16 servers, the two
replicas of one shard.

``?cluster=NAME&replicated=1``: ``migrate()`` runs once, against either server, and
creates everything ``ON CLUSTER`` (distributed DDL through ZooKeeper); the data tables
are ``Replicated*MergeTree`` under Distributed tables, and ``schema_migrations`` is one
replicated table for the whole cluster, so every server knows the schema is current.
The same writer and queries as on one server.
"""

from __future__ import annotations

import datetime
import functools
import threading
import time
import uuid

import pytest
from socialwatch.classifier.flags import Flag, Match
from socialwatch.storage import open_storage
from socialwatch.storage.backend import load_migrations
from support.clickhouse_server import ClickHouseProcess
from support.processes import free_port
from support.zookeeper_server import ZooKeeperProcess

from socialwatch.events import ActivityEvent

CLUSTER = "sw_replicated"
T0 = datetime.datetime(2026, 3, 14, 15, 0, tzinfo=datetime.UTC)
BULLYING = Flag("bullying", "medium", 1.5, 1.0, (Match("nobody likes you", "bullying", "targeted_insult",
                                                       "medium", 1.5, 0, 16),),
                "'nobody likes you' (1.5) >= 1.0")
REPLICA_CONFIG = """<?xml version="1.0"?>
<yandex>
    <zookeeper><node><host>127.0.0.1</host><port>{zookeeper}</port></node></zookeeper>
    <macros><shard>01</shard><replica>r{number}</replica></macros>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>{interserver}</interserver_http_port>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
    <remote_servers>
        <{cluster}>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>{port1}</port></replica>
                <replica><host>127.0.0.1</host><port>{port2}</port></replica>
            </shard>
        </{cluster}>
    </remote_servers>
</yandex>
"""


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """ZooKeeper, then two servers: the replicas r1 and r2 of shard 01."""
    zookeeper = ZooKeeperProcess(tmp_path_factory.mktemp("zookeeper"))
    processes = [ClickHouseProcess(tmp_path_factory.mktemp(f"replica{n}")) for n in (1, 2)]
    for number, process in enumerate(processes, start=1):
        (process.directory / "config.d").mkdir(exist_ok=True)
        (process.directory / "config.d" / "replication.xml").write_text(REPLICA_CONFIG.format(
            zookeeper=zookeeper.port, number=number, interserver=free_port(), cluster=CLUSTER,
            port1=processes[0].port, port2=processes[1].port))
    zookeeper.start()
    try:
        for process in processes:
            process.start()
        yield processes
    finally:
        stoppers = [threading.Thread(target=process.stop) for process in processes]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        zookeeper.stop()


def url(replica: ClickHouseProcess, database: str) -> str:
    return (f"clickhouse://default:@127.0.0.1:{replica.port}/{database}"
            f"?cluster={CLUSTER}&replicated=1&connect_timeout=5")


def events(count: int, school: str) -> list[tuple[ActivityEvent, list[Flag]]]:
    batch = []
    for i in range(count):
        flagged = i % 10 == 0
        event = ActivityEvent(
            event_id=uuid.uuid4(), time=T0 + datetime.timedelta(seconds=i), device=f"10.9.{i % 50}.1",
            person="", platform="instagram", host="i.instagram.com", method="POST", path="/p",
            action="comment", status=200, request_bytes=10, response_bytes=10,
            text="nobody likes you" if flagged else "", school=school,
        )
        batch.append((event, [BULLYING] if flagged else []))
    return batch


def eventually(read, expected, timeout: float = 30.0):
    """Replication is asynchronous: wait until `read()` gives `expected`."""
    deadline = time.monotonic() + timeout
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def test_one_migrate_sets_up_every_replica_and_each_sees_the_schema_current(replicas):
    first, second = (open_storage(url(replica, "sw_repl_schema")) for replica in replicas)
    try:
        names = [migration.name for migration in load_migrations()]
        assert first.migrate() == names
        # The other replica has every table and knows the schema is current: its own
        # start-up migrate() runs no DDL.
        assert eventually(second.schema_status, (load_migrations()[-1].version, [])) == \
            (load_migrations()[-1].version, [])
        assert second.migrate() == []
        engines = {row["name"]: row["engine"] for row in second.query(
            "SELECT name, engine FROM system.tables WHERE database = {db:String}", {"db": second.database})}
        assert engines["events_local"] == "ReplicatedReplacingMergeTree"
        assert engines["events"] == "Distributed"
        assert engines["activity_hourly_local"] == "ReplicatedSummingMergeTree"
        assert engines["schema_migrations"] == "ReplicatedMergeTree"
        columns = {row["name"] for row in second.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'review_actions_local'",
            {"db": second.database})}
        assert {"status", "assignee", "sequence"} <= columns, "migration 0003's ALTER reached both replicas"
    finally:
        first.close()
        second.close()


def test_rows_written_through_one_replica_are_read_the_same_from_the_other(replicas):
    first, second = (open_storage(url(replica, "sw_repl_rows")) for replica in replicas)
    try:
        first.migrate()
        batch = events(2000, "north-high")
        for start in range(0, len(batch), 500):
            first.write(batch[start:start + 500])
        assert first.write_missing(batch[:500]) == (0, 0)  # the writer's retry: nothing is missing
        local = "SELECT count() AS n FROM {database}.events_local"
        assert eventually(lambda: second.query(local), [{"n": 2000}]) == [{"n": 2000}]
        for store in (first, second):
            assert store.query("SELECT count() AS n FROM {database}.events") == [{"n": 2000}]
            for sql, expected in (("SELECT count() AS n FROM {database}.flags_local", 200),
                                  ("SELECT sum(events) AS n FROM {database}.activity_hourly_local", 2000)):
                assert eventually(functools.partial(store.query, sql), [{"n": expected}]) == [{"n": expected}]
    finally:
        first.close()
        second.close()


def test_a_re_sent_block_is_dropped_by_the_replicated_tables(replicas):
    """Replicated tables deduplicate a block inserted again (its hash is kept in ZooKeeper),
    the rollups' views included: a backstop behind the writer's write_missing."""
    store = open_storage(url(replicas[0], "sw_repl_dedup"))
    try:
        store.migrate()
        batch = events(300, "south-high")
        store.write(batch)
        store.write(batch)
        assert store.query("SELECT count() AS n FROM {database}.events_local") == [{"n": 300}]
        assert store.query("SELECT sum(events) AS n FROM {database}.activity_hourly_local") == [{"n": 300}]
    finally:
        store.close()


def test_with_a_replica_down_the_other_takes_the_writes_and_the_first_catches_up(replicas):
    first, second = (open_storage(url(replica, "sw_repl_down")) for replica in replicas)
    try:
        first.migrate()
        eventually(second.schema_status, (load_migrations()[-1].version, []))
        replicas[0].kill()
        second.write(events(1000, "north-high"))
        assert second.query("SELECT count() AS n FROM {database}.events_local") == [{"n": 1000}]
        replicas[0].start()
        first.close()
        first = open_storage(url(replicas[0], "sw_repl_down"))
        local = "SELECT count() AS n FROM {database}.events_local"
        assert eventually(lambda: first.query(local), [{"n": 1000}], timeout=60) == [{"n": 1000}]
    finally:
        first.close()
        second.close()
