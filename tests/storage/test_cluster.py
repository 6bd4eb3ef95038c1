"""Scale-out: two real ClickHouse 18.16 servers as the two shards of one cluster.

Each server gets a ``config.d/cluster.xml`` (read by the server next to its
config.xml) naming both shards; each shard is migrated with ``?cluster=``; two
writers ("schools"), one per server, write through the Distributed tables with the
ordinary ``Storage.write``; the totals are read back through either server with the
ordinary queries, and each shard's ``_local`` tables show the rows are spread.
Replicated tables and ON CLUSTER: test_replicated.py, with a real ZooKeeper.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import uuid

import pytest
from clickhouse_driver import Client
from socialwatch.classifier.flags import Flag, Match
from socialwatch.storage import StorageError, open_storage
from socialwatch.storage.backend import load_migrations
from socialwatch.storage.cluster import SHARDING_KEYS
from support.clickhouse_server import ClickHouseProcess

from socialwatch.events import ActivityEvent

UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
CLUSTER = "sw_test_cluster"
DATABASE = "sw_cluster"
EVENTS_PER_SCHOOL = 5_000
BATCH = 500
FLAG_EVERY = 10
BULLYING = Flag("bullying", "medium", 1.5, 1.0, (Match("nobody likes you", "bullying", "targeted_insult",
                                                       "medium", 1.5, 0, 16),),
                "'nobody likes you' (1.5) >= 1.0")
SCHOOLS = ("north-high", "south-high")

REMOTE_SERVERS = """<?xml version="1.0"?>
<yandex>
    <remote_servers>
        <{cluster}>
            <shard><replica><host>127.0.0.1</host><port>{port1}</port></replica></shard>
            <shard><replica><host>127.0.0.1</host><port>{port2}</port></replica></shard>
        </{cluster}>
    </remote_servers>
</yandex>
"""


@pytest.fixture(scope="module")
def shard_processes(tmp_path_factory):
    """Two started servers, each knowing the cluster of both."""
    processes = [ClickHouseProcess(tmp_path_factory.mktemp(f"shard{n}")) for n in (1, 2)]
    for process in processes:
        (process.directory / "config.d").mkdir(exist_ok=True)
        (process.directory / "config.d" / "cluster.xml").write_text(REMOTE_SERVERS.format(
            cluster=CLUSTER, port1=processes[0].port, port2=processes[1].port))
    try:
        for process in processes:
            process.start()
        yield processes
    finally:  # in parallel: each 18.16 takes seconds to shut down
        stoppers = [threading.Thread(target=process.stop) for process in processes]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()


@pytest.fixture(scope="module")
def shards(shard_processes):
    return [ServerInfo(process.port) for process in shard_processes]


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    port: int
    host: str = "127.0.0.1"


def cluster_url(server, database: str = DATABASE) -> str:
    return f"clickhouse://default:@{server.host}:{server.port}/{database}?cluster={CLUSTER}&connect_timeout=5"


def school_events(school_index: int) -> list[tuple[ActivityEvent, list[Flag]]]:
    school = SCHOOLS[school_index]
    batch = []
    for i in range(EVENTS_PER_SCHOOL):
        flagged = i % FLAG_EVERY == 0
        event = ActivityEvent(
            event_id=uuid.uuid4(), time=T0 + datetime.timedelta(seconds=i), device=f"10.{school_index}.{i % 200}.7",
            person=f"p{i % 300}", platform="instagram" if i % 2 else "tiktok", host="i.instagram.com",
            method="POST", path="/p", action="comment", status=200, request_bytes=10, response_bytes=100,
            text="nobody likes you" if flagged else "", school=school, age_band="13_17",
        )
        batch.append((event, [BULLYING] if flagged else []))
    return batch


def local_client(server) -> Client:
    return Client(host=server.host, port=server.port)


def test_cluster_migration_is_a_rewrite_and_single_server_sql_is_unchanged():
    for migration in load_migrations():
        plain = migration.statements("socialwatch")
        assert migration.statements("socialwatch", None) == plain
        sharded = migration.statements("socialwatch", "c1")
        assert all("_local" not in statement for statement in plain)
        # Every plain table but schema_migrations has a _local twin and a Distributed table.
        for statement in sharded:
            if "ENGINE = Distributed" in statement:
                assert statement.startswith("CREATE TABLE IF NOT EXISTS ")
                name = statement.split()[5].partition(".")[2]
                assert f"'{name}_local', {SHARDING_KEYS[name]})" in statement
            if "MATERIALIZED VIEW" in statement:
                target = statement.split(" TO ")[1].split()[0]
                source = statement.split("FROM")[-1].split()[0]
                assert target.endswith("_local") and source.endswith("_local")
    with pytest.raises(StorageError, match="invalid cluster name"):
        load_migrations()[0].statements("socialwatch", "c1; DROP")


def test_cluster_option_is_not_passed_to_the_driver(shards):
    store = open_storage(cluster_url(shards[0], "sw_option"))
    try:
        assert store.cluster == CLUSTER
        assert store.query("SELECT 1 AS one") == [{"one": 1}]  # an unknown 'cluster' setting would fail
    finally:
        store.close()
    with pytest.raises(StorageError, match="invalid cluster name"):
        open_storage(f"clickhouse://default:@127.0.0.1:{shards[0].port}/x?cluster=a-b")


def test_two_schools_write_through_distributed_tables_and_totals_read_back_from_either_shard(shards):
    stores = [open_storage(cluster_url(server)) for server in shards]
    try:
        # The admin migrates every shard (each records its own schema_migrations).
        for store in stores:
            assert store.migrate() == [m.name for m in load_migrations()]
            assert store.migrate() == []

        batches = [school_events(0), school_events(1)]
        errors: list[StorageError] = []

        def writer(store, events):
            try:
                for start in range(0, len(events), BATCH):
                    store.write(events[start:start + BATCH])
            except StorageError as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(store, events)) for store, events in zip(stores, batches)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        # A retried batch (its first answer "lost"), through the other shard: the writer's
        # write_missing finds every row already stored, across both shards.
        assert stores[1].write_missing(batches[0][:BATCH]) == (0, 0)

        flags_per_school = EVENTS_PER_SCHOOL // FLAG_EVERY
        for store in stores:  # either server answers for the whole cluster
            exact = store.query("SELECT school, count() AS n, uniqExact(event_id) AS ids"
                                " FROM {database}.events FINAL GROUP BY school ORDER BY school")
            assert exact == [{"school": school, "n": EVENTS_PER_SCHOOL, "ids": EVENTS_PER_SCHOOL}
                             for school in SCHOOLS]
            raw = store.query("SELECT school, count() AS n FROM {database}.events GROUP BY school ORDER BY school")
            assert raw == [{"school": school, "n": EVENTS_PER_SCHOOL} for school in SCHOOLS]
            flags = store.query("SELECT school, count() AS n FROM {database}.flags FINAL"
                                " WHERE category = {c:String} GROUP BY school ORDER BY school", {"c": "bullying"})
            assert flags == [{"school": school, "n": flags_per_school} for school in SCHOOLS]
            activity = store.query("SELECT school, sum(events) AS events, sum(flagged) AS flagged,"
                                   " sum(request_bytes) AS request_bytes"
                                   " FROM {database}.activity_hourly GROUP BY school ORDER BY school")
            assert activity == [
                {"school": school, "events": EVENTS_PER_SCHOOL, "flagged": flags_per_school,
                 "request_bytes": 10 * EVENTS_PER_SCHOOL} for school in SCHOOLS
            ]
            flag_rollup = store.query("SELECT school, sum(flags) AS n FROM {database}.flags_hourly"
                                      " GROUP BY school ORDER BY school")
            assert flag_rollup == [{"school": school, "n": flags_per_school} for school in SCHOOLS]
            dashboards = store.query("SELECT school, sum(events) AS events"
                                     " FROM {database}_dashboards.activity_hourly GROUP BY school ORDER BY school")
            assert dashboards == [{"school": row["school"], "events": row["events"]} for row in activity]

        # The rows are really on both shards, and each device on exactly one (deterministic key).
        per_shard = []
        for server in shards:
            client = local_client(server)
            try:
                per_shard.append({
                    "events": dict(client.execute(
                        f"SELECT school, count() FROM {DATABASE}.events_local FINAL GROUP BY school")),
                    "devices": {device for (device,) in client.execute(
                        f"SELECT DISTINCT device FROM {DATABASE}.events_local")},
                    "flag_devices": {device for (device,) in client.execute(
                        f"SELECT DISTINCT device FROM {DATABASE}.flags_local")},
                    "rollup": client.execute(f"SELECT sum(events) FROM {DATABASE}.activity_hourly_local")[0][0],
                    "schema": [name for (name,) in client.execute(
                        f"SELECT name FROM {DATABASE}.schema_migrations ORDER BY version")],
                })
            finally:
                client.disconnect()
        for school in SCHOOLS:
            counts = [shard["events"].get(school, 0) for shard in per_shard]
            assert all(count > EVENTS_PER_SCHOOL // 10 for count in counts), counts
            assert sum(counts) == EVENTS_PER_SCHOOL
        assert not per_shard[0]["devices"] & per_shard[1]["devices"]
        for shard in per_shard:  # a device's flags live with its events
            assert shard["flag_devices"] <= shard["devices"]
            assert shard["rollup"] > 0
            assert shard["schema"] == [m.name for m in load_migrations()]

        # Review actions and the audit log go through their Distributed tables too.
        flag_id = uuid.uuid4()
        review = (uuid.uuid4(), flag_id, uuid.uuid4(), T0, "ada", "note", "n", "in_review", "ada", 1)
        stores[0].append("review_actions", [review])
        stores[1].append("review_actions", [review])  # a retry through the other shard
        assert stores[1].query("SELECT count() AS n FROM {database}.review_actions FINAL"
                               " WHERE flag_id = {f:UUID}", {"f": flag_id}) == [{"n": 1}]
    finally:
        for store in stores:
            store.close()


def test_replicated_variant_runs_once_on_the_whole_cluster():
    """The statements' text; test_replicated.py runs them on a real replicated cluster."""
    for migration in load_migrations():
        for statement in migration.statements("socialwatch", "c1", replicated=True):
            head = statement.split("(")[0].split("\n")[0]
            if statement.startswith("INSERT"):
                assert "_local" not in statement, "a one-off copy goes through the Distributed tables"
                continue
            assert " ON CLUSTER c1" in head, statement
            assert " COMMENT '" not in statement, "18.16 refuses a second replica of a commented table"
            if statement.startswith("CREATE TABLE IF NOT EXISTS socialwatch.schema_"):
                table = head.split()[5]
                assert f"ReplicatedMergeTree('/clickhouse/tables/all/{table.replace('.', '/')}'," \
                       " '{shard}-{replica}')" in statement
            elif statement.startswith("CREATE TABLE") and head.split()[5].endswith("_local"):
                database, _, name = head.split()[5].partition(".")
                assert f"MergeTree('/clickhouse/tables/{{shard}}/{database}/{name}', '{{replica}}'" in statement
            elif statement.startswith("ALTER TABLE"):
                assert head.split()[2].endswith("_local"), "only replicated tables take ALTER ON CLUSTER"
    alters = load_migrations()[2].statements("sw", "c1", replicated=True)
    assert [statement.split("\n")[0] for statement in alters] == [
        "ALTER TABLE sw.review_actions_local ON CLUSTER c1",
        "DROP TABLE IF EXISTS sw.review_actions ON CLUSTER c1",
        "CREATE TABLE IF NOT EXISTS sw.review_actions ON CLUSTER c1 AS sw.review_actions_local",
    ]
    suppressions = [s for s in load_migrations()[3].statements("sw", "c1", replicated=True)
                    if s.startswith("CREATE TABLE IF NOT EXISTS sw.suppressions_local")]
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/sw/suppressions_local', '{replica}', sequence)" \
        in suppressions[0]


def test_cluster_url_options_are_checked():
    from socialwatch.storage.clickhouse_native import ClickHouseNativeStorage

    store = ClickHouseNativeStorage("clickhouse://u:p@h:9000/db?connect_timeout=3&cluster=c1&replicated=1")
    assert (store.cluster, store.replicated) == ("c1", True)
    assert store._client.settings == {}  # neither is sent to the server as a setting
    plain = ClickHouseNativeStorage("clickhouse://u:p@h:9000/db?connect_timeout=3")
    assert (plain.cluster, plain.replicated) == (None, False)
    for bad in ("?replicated=1", "?cluster=a&cluster=b", "?cluster=a&replicated=yes"):
        with pytest.raises(StorageError):
            ClickHouseNativeStorage(f"clickhouse://u:p@h:9000/db{bad}")


def test_a_batch_written_while_a_shard_is_down_fails_and_its_retry_counts_once(shard_processes, shards):
    """insert_distributed_sync: no acknowledgement while a shard cannot take its rows;
    whatever part reached the live shard, the retry writes only the missing rows."""
    stores = [open_storage(cluster_url(server, "sw_cluster_fault")) for server in shards]
    try:
        for store in stores:
            store.migrate()
        batch = school_events(0)[:BATCH]
        shard_processes[1].kill()
        with pytest.raises(StorageError):
            stores[0].write(batch)
        shard_processes[1].start()  # same ports, same data
        stores[0].write_missing(batch)  # the writer's retry
        for store in stores:
            assert store.query("SELECT count() AS n FROM {database}.events") == [{"n": BATCH}]
            assert store.query("SELECT count() AS n FROM {database}.flags") == [{"n": BATCH // FLAG_EVERY}]
            assert store.query("SELECT sum(events) AS n FROM {database}.activity_hourly") == [{"n": BATCH}]
    finally:
        for store in stores:
            store.close()


def test_retention_run_on_each_shard_forgets_old_rows_in_its_local_tables(shards):
    from socialwatch.storage.retention import apply_retention, retention_plan

    stores = [open_storage(cluster_url(server, "sw_retention")) for server in shards]
    try:
        for store in stores:
            store.migrate()
        old, new = school_events(0)[:40], school_events(1)[:40]
        old = [(dataclasses.replace(e, time=T0 - datetime.timedelta(days=400)), f) for e, f in old]
        stores[0].write(old + new)
        now = T0 + datetime.timedelta(days=1)
        for store in stores:  # the admin runs `socialwatch db retention` against every shard
            plan = retention_plan(store, {"events": 90, "flags": 365}, now)
            assert {step.action for step in plan} <= {"drop_partition", "delete_rows"}
            apply_retention(store, plan)
        rows = stores[1].query("SELECT school, count() AS n FROM {database}.events FINAL GROUP BY school")
        assert rows == [{"school": SCHOOLS[1], "n": 40}]
        assert stores[0].query("SELECT count() AS n FROM {database}.flags FINAL") == [
            {"n": sum(1 for _, f in new if f)}]
    finally:
        for store in stores:
            store.close()


def test_the_rollup_repair_reads_and_adds_through_the_distributed_tables(shards):
    """A count lost on one shard (its view detached while a batch is written) is noted by the
    retry and added back by a repair run against either shard: it reads every shard through the
    Distributed tables and adds through them."""
    from socialwatch.storage.rollup_repair import pending_hours, repair_rollups

    database = "sw_cluster_repair"
    stores = [open_storage(cluster_url(server, database)) for server in shards]
    client = local_client(shards[1])
    try:
        for store in stores:
            store.migrate()
        batch = school_events(0)[:BATCH]
        client.execute(f"DETACH TABLE {database}.activity_hourly_mv")
        try:
            stores[0].write(batch)
        finally:
            client.execute(f"ATTACH TABLE {database}.activity_hourly_mv")
        [[lost]] = client.execute(f"SELECT count() FROM {database}.events_local")
        assert 0 < lost < BATCH, "the batch spreads over both shards"
        assert stores[0].query("SELECT sum(events) AS n FROM {database}.activity_hourly") == [{"n": BATCH - lost}]

        assert stores[0].write_missing(batch) == (0, 0)
        assert pending_hours(stores[1]) == [T0]
        repairs, busy = repair_rollups(stores[1], settle=1.0)
        assert busy == [] and {(r.database, r.table) for r in repairs} == {(database, "activity_hourly")}
        assert sum(r.added["events"] for r in repairs) == lost  # one row per platform
        for store in stores:
            assert store.query("SELECT sum(events) AS n FROM {database}.activity_hourly") == [{"n": BATCH}]
            assert store.query("SELECT sum(events) AS n FROM {database}_dashboards.activity_hourly") == [{"n": BATCH}]
            assert pending_hours(store) == []
    finally:
        client.disconnect()
        for store in stores:
            store.close()
