"""The writer under faults, against real ClickHouse servers and real processes.

- ClickHouse killed (SIGKILL) in the middle of a stream of 100,000 events and
  started again later: every event is in ClickHouse exactly once.
- The writer process killed (SIGKILL) with events in its spool, and again in
  the middle of the replay: the spool is replayed, nothing lost, nothing
  duplicated; the spool never held an unflagged event's text.
- A corrupted spool (flipped bytes, torn tail) is detected, quarantined and
  counted; the rest is replayed.
- The spool's disk full (a small tmpfs): a clear error and metric, events
  dropped are counted exactly, the writer keeps taking events, and recovers.

"Exactly once" holds on disk and in the rollups, not only for readers with
``FINAL``: a retried or replayed batch writes only its rows not yet stored, and notes
their hours, whose rollups ``socialwatch db repair-rollups`` checks: a kill between an
insert's table and its views keeps the rows and loses their count (docs/storage.md).
The storage tests use a stand-in classifier (support/marker_classifier.py): lexicon
changes must not move their numbers.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from socialwatch.dashboards.metrics import Metrics
from socialwatch.pipeline import Pipeline
from socialwatch.storage import open_storage
from socialwatch.storage.rollup_repair import repair_rollups
from socialwatch.storage.spool import HEADER_SIZE, Spool, encode_batch
from support import spool_writer
from support.clickhouse_server import ClickHouseProcess
from support.marker_classifier import FLAGGED_PHRASE, marker_classifier
from support.spool_writer import event

WRITER = Path(spool_writer.__file__)
FAST_FAILING = "connect_timeout=1&send_receive_timeout=10&sync_request_timeout=1"


def value(metrics: Metrics, name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def dropped(metrics: Metrics) -> float:
    return sum(sample.value for family in metrics.events_dropped.collect() for sample in family.samples
               if sample.name.endswith("_total"))


def counts(store) -> dict:
    """What readers see (FINAL), what the tables hold (raw) and what the rollups counted."""
    [events] = store.query("SELECT count() AS final, uniqExact(event_id) AS ids FROM {database}.events FINAL")
    [raw] = store.query("SELECT count() AS raw FROM {database}.events")
    [flags] = store.query("SELECT count() AS flags FROM {database}.flags FINAL")
    [raw_flags] = store.query("SELECT count() AS raw_flags FROM {database}.flags")
    [rolled] = store.query("SELECT sum(events) AS rolled FROM {database}.activity_hourly")
    [rolled_flags] = store.query("SELECT sum(flags) AS rolled_flags FROM {database}.flags_hourly")
    [dashboards] = store.query("SELECT sum(events) AS dashboards FROM {database}_dashboards.activity_hourly")
    [dashboards_flags] = store.query("SELECT sum(flags) AS dashboards_flags FROM {database}_dashboards.flags_hourly")
    return {**events, **raw, **flags, **raw_flags, **rolled, **rolled_flags, **dashboards, **dashboards_flags}


def assert_stored_exactly_once(store, events: int, flags: int) -> None:
    """Every event and flag once in what readers see, on disk and in the dashboards' rollups:
    a retry or replay writes only the rows its earlier attempt did not store."""
    seen = counts(store)
    assert (seen["final"], seen["ids"], seen["flags"]) == (events, events, flags)
    assert (seen["raw"], seen["raw_flags"]) == (events, flags), "a copy reached the tables"
    assert (seen["rolled"], seen["rolled_flags"], seen["dashboards"], seen["dashboards_flags"]) == \
        (events, flags, events, flags), "the rollups missed or doubled a count"


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s: {message}")
        time.sleep(0.05)


def test_clickhouse_killed_mid_stream_keeps_every_event_exactly_once(tmp_path):
    total = 100_000
    server = ClickHouseProcess(tmp_path / "clickhouse")
    info = server.start()
    store = open_storage(f"{info.url_for('faults')}?{FAST_FAILING}")
    metrics = Metrics(CollectorRegistry())
    spool = Spool(tmp_path / "spool", max_bytes=1 << 30)
    pipeline = Pipeline(marker_classifier(), store, metrics, queue_size=total, batch_size=2000,
                        flush_interval=0.1, spool=spool, retries_before_spooling=1)
    submitted = 0

    def produce():  # about 25,000 events a second, as a busy district's proxy might
        nonlocal submitted
        for i in range(total):
            assert pipeline.submit(event(i)), f"event {i} refused"
            submitted = i + 1
            if i % 1000 == 999:
                time.sleep(0.04)

    try:
        store.migrate()
        pipeline.start()
        producer = threading.Thread(target=produce)
        producer.start()
        wait_until(lambda: submitted >= 30_000, 30, "30,000 events submitted")
        server.kill()
        time.sleep(1.5)  # the stream goes on into the spool
        assert submitted < total, "the stream ended before ClickHouse came back: no longer mid-stream"
        server.start()
        producer.join()
        wait_until(lambda: submitted == total and spool.pending == 0 and pipeline.oldest_unsent_age() == 0,
                   90, f"stream written; spool holds {spool.pending} records")
        pipeline.stop()
        repair_rollups(store, settle=1.0)  # what socialwatch-rollups.timer runs
        assert_stored_exactly_once(store, total, total // 10)
        assert value(metrics, "socialwatch_storage_rows_written_total", table="events") + \
            value(metrics, "socialwatch_storage_rows_already_stored_total", table="events") == total
        assert value(metrics, "socialwatch_spooled_events_total") > 0, "the kill must have sent batches to the spool"
        assert value(metrics, "socialwatch_spool_replayed_events_total") == \
            value(metrics, "socialwatch_spooled_events_total")
        assert value(metrics, "socialwatch_storage_insert_retries_total") > 0
        assert dropped(metrics) == 0
        assert (spool.bytes, spool.segments) == (0, 0)
    finally:
        pipeline.stop(timeout=1)
        store.close()
        server.stop()


def writer(mode: str, url: str, spool: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), mode, "--storage-url", url, "--spool", str(spool), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_writer_killed_with_a_spool_replays_it_without_loss_or_duplicates(clickhouse_server, tmp_path):
    total = 5000
    url = clickhouse_server.url_for(f"killed_{uuid.uuid4().hex[:8]}")  # not migrated: every insert fails
    spool_dir, ready = tmp_path / "spool", tmp_path / "ready"
    producer = writer("produce", url, spool_dir, "--count", str(total), "--ready", str(ready))
    try:
        wait_until(lambda: ready.exists() or producer.poll() is not None, 60, "events spooled")
        assert producer.poll() is None, producer.communicate()
        assert int(ready.read_text()) == total // 100
    finally:
        producer.kill()
        producer.wait()

    # Privacy: the spool holds the flagged text and no unflagged text at all.
    spooled = b"".join(path.read_bytes() for path in spool_dir.rglob("*") if path.is_file())
    assert FLAGGED_PHRASE.encode() in spooled
    assert spool_writer.UNFLAGGED_MARKER.encode() not in spooled

    store = open_storage(url)
    try:
        store.migrate()  # storage is back
        slow = writer("replay", url, spool_dir, "--pause-after-insert", "0.05")
        try:
            wait_until(lambda: counts(store)["raw"] >= total // 3 or slow.poll() is not None, 60, "replay under way")
            assert slow.poll() is None, slow.communicate()
        finally:
            slow.kill()  # mid-replay, likely between an insert and its acknowledgement
            slow.wait()
        assert counts(store)["raw"] < total, "killed before the end of the replay"
        rest = writer("replay", url, spool_dir)
        out, err = rest.communicate(timeout=60)
        assert rest.returncode == 0, err
        assert out.strip() == "replayed"
        assert_stored_exactly_once(store, total, total // 10)
        [row] = store.query("SELECT count() AS n FROM {database}.flags WHERE text != {t:String}", {"t": FLAGGED_PHRASE})
        assert row["n"] == 0
        assert not list(spool_dir.glob("*.seg"))
    finally:
        store.close()


def test_a_corrupted_spool_is_quarantined_and_the_rest_replayed(clickhouse_server, tmp_path):
    batches = [[(event(10 * b + i), []) for i in range(10)] for b in range(5)]
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    for batch in batches:
        spool.append(encode_batch(batch), oldest=0.0)
    records = []
    while spool.pending:  # where each record is, for the damage below
        records.append(spool.peek())
        spool._records.pop(0)
    spool.close()
    [segment] = (tmp_path / "spool").glob("*.seg")
    data = bytearray(segment.read_bytes())
    data[records[1].offset + HEADER_SIZE + 40] ^= 0x5A  # flipped bits in batch 1
    del data[-7:]  # torn tail of batch 4
    segment.write_bytes(bytes(data))

    store = open_storage(clickhouse_server.url_for(f"corrupt_{uuid.uuid4().hex[:8]}"))
    store.migrate()
    metrics = Metrics(CollectorRegistry())
    reopened = Spool(tmp_path / "spool", max_bytes=1 << 20)
    pipeline = Pipeline(marker_classifier(), store, metrics, queue_size=10, batch_size=10, flush_interval=0.05,
                        spool=reopened)
    try:
        pipeline.start()
        wait_until(lambda: reopened.pending == 0, 20, "spool replayed")
        pipeline.stop()
        stored = {row["id"] for row in store.query("SELECT toString(event_id) AS id FROM {database}.events FINAL")}
        expected = {str(e.event_id) for b in (0, 2, 3) for e, _ in batches[b]}
        assert stored == expected
        assert value(metrics, "socialwatch_spool_records_quarantined_total") == 2
        assert len(list((tmp_path / "spool" / "quarantine").iterdir())) == 2
    finally:
        pipeline.stop(timeout=1)
        store.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs: the spool's disk, made to fill up."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_spool_disk_is_a_clear_error_and_the_writer_keeps_going(clickhouse_server, small_disk, caplog):
    store = open_storage(clickhouse_server.url_for(f"diskfull_{uuid.uuid4().hex[:8]}"))  # not migrated yet
    metrics = Metrics(CollectorRegistry())
    spool = Spool(small_disk / "spool", max_bytes=1 << 30)  # the disk fills long before the bound
    # The configuration's default queue: a full disk must not stall the writer behind it.
    pipeline = Pipeline(marker_classifier(), store, metrics, queue_size=10_000, batch_size=100,
                        flush_interval=0.05, spool=spool, retries_before_spooling=0)
    total, slowest = 3000, 0.0
    try:
        with caplog.at_level(logging.ERROR, logger="socialwatch"):
            pipeline.start()
            for i in range(total):
                started = time.perf_counter()
                assert pipeline.submit(event(i)), "the proxy must never be refused or held up"
                slowest = max(slowest, time.perf_counter() - started)
                if i % 100 == 99:
                    time.sleep(0.02)
            lost = lambda: value(metrics, "socialwatch_events_dropped_total", reason="spool_write_failed")
            wait_until(lambda: value(metrics, "socialwatch_spooled_events_total") + lost() == total, 30,
                       "every event spooled or counted as dropped")
        assert slowest < 0.05
        assert lost() > 0 and value(metrics, "socialwatch_spool_write_errors_total") > 0
        assert value(metrics, "socialwatch_spool_full") == 1
        assert dropped(metrics) == lost(), "no other reason"
        assert any("EVENTS LOST" in r.message and "No space left on device" in r.message for r in caplog.records)
        assert pipeline._thread.is_alive()

        store.migrate()  # storage is back: the spool drains, and new events flow again
        for i in range(total, total + 100):
            assert pipeline.submit(event(i))
        wait_until(lambda: spool.pending == 0 and counts(store)["final"] + lost() == total + 100, 30,
                   "spool replayed and new events written")
        assert value(metrics, "socialwatch_spool_full") == 0
        pipeline.stop()
        assert counts(store)["final"] + lost() == total + 100
    finally:
        pipeline.stop(timeout=1)
        spool.close()
        store.close()
