"""The storage writer's sustained throughput, against raw inserts of the same rows, and
the time from capture to a visible row. Both back ends, in one run.

- writer: ``Pipeline.submit`` for every event, through the bounded queue, the batcher,
  the row building and ``Storage.write`` (with the spool configured, as deployed), until
  every row is written;
- raw, insert only: the same rows, built into columns beforehand (not timed), inserted
  in batches of the same size with clickhouse-driver's columnar ``INSERT ... VALUES``
  (server) or chDB's ``send_insert`` of a prebuilt JSONCompactColumns document
  (embedded): a bound no writer that starts from events can reach;
- raw, from events: the same, timing the columns' construction from the event objects
  too (what any program holding events must do), but no queue, classifier, spool or metrics;
- the writer is measured twice: with the classifier's answers computed beforehand (what
  storage costs: the issue's "writer vs raw inserts") and with the classifier running in
  the writer thread, as deployed.

Latency: events submitted at a steady rate with their capture time; a reader polls the
table (``FINAL``) and notes when each becomes visible; p50 and p99 of the difference,
with the deployed defaults (batch 500, flush interval 1 s) and with a 0.1 s interval.

One event in ten carries a flagged text (a stand-in classifier flags one phrase), so
the flags table is written too. The server is Debian's clickhouse-server, started on a
free loopback port in a temporary directory; the embedded engine is chDB.

Run: .venv/bin/python bench/storage_writer.py [--events N] [--batch-size B]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import threading
import time
import uuid

from prometheus_client import CollectorRegistry

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the test suite's server launcher and stand-in classifier

from socialwatch.dashboards.metrics import Metrics
from socialwatch.storage import open_storage
from socialwatch.storage.backend import (
    EVENT_COLUMNS,
    FLAG_COLUMNS,
    event_columns,
    flag_row,
)
from socialwatch.storage.chdb_embedded import _json_column
from socialwatch.storage.spool import Spool
from support.clickhouse_server import ClickHouseProcess
from support.marker_classifier import FLAGGED_PHRASE, marker_classifier

from socialwatch.events import ActivityEvent, utcnow
from socialwatch.pipeline import Pipeline


def make_events(n: int, device_prefix: str = "10.1") -> list[ActivityEvent]:
    now = utcnow()
    return [
        ActivityEvent(
            event_id=uuid.uuid4(), time=now, device=f"{device_prefix}.{i % 200}.{i % 250}", person=f"s{i % 5000:06d}",
            platform=("instagram", "tiktok", "snapchat", "discord")[i % 4], host="www.instagram.com", method="POST",
            path="/api/v1/web/comments/1/add/", action=("view", "comment", "message", "like")[i % 4],
            status=200, request_bytes=300 + i % 700, response_bytes=2000 + i % 5000,
            text=f"{FLAGGED_PHRASE} now" if i % 10 == 0 else "",
        )
        for i in range(n)
    ]


def batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Classified:
    """The classifier's answers, computed beforehand: the writer alone, with classification
    taken out (a dict lookup per text), measures what storage costs."""

    def __init__(self, events: list[ActivityEvent]):
        classifier = marker_classifier()
        self.answers = {e.text: classifier.classify(e.text) for e in events if e.text}
        self.redacted = {text: classifier.redact(text) for text in self.answers}

    def classify(self, text: str, age_band: str = "unknown"):
        return self.answers[text]

    def redact(self, text: str) -> str:
        return self.redacted[text]


def run_writer(url: str, events: list[ActivityEvent], batch_size: int, spool_dir: pathlib.Path,
               prefilled: bool, classifier=None) -> float:
    """Seconds to write `events` through the pipeline: with the queue filled before the
    writer starts (the writer alone), or submitted while it runs (sharing the GIL with
    a producer, as with the proxy). `classifier`: the real one by default."""
    store = open_storage(url)
    store.migrate()
    metrics = Metrics(CollectorRegistry())
    pipeline = Pipeline(classifier or marker_classifier(), store, metrics, queue_size=len(events),
                        batch_size=batch_size, flush_interval=1.0, spool=Spool(spool_dir, max_bytes=1 << 30))
    written = metrics.rows_written.labels(table="events")
    if prefilled:
        for event in events:
            pipeline.submit(event)
    started = time.perf_counter()
    pipeline.start()
    if not prefilled:
        for event in events:
            if not pipeline.submit(event):
                raise RuntimeError("queue full")
    while written._value.get() < len(events):
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    pipeline.stop()
    store.close()
    return elapsed


def server_batches(events: list[ActivityEvent], batch_size: int, classified: Classified) -> list[tuple[list, list]]:
    """Per batch: the events' columns and the flags' columns, built the fastest way we know,
    from the classifier's answers computed beforehand (the baselines do not classify)."""
    out = []
    for chunk in batches(events, batch_size):
        batch = [(e, classified.classify(e.text) if e.text else ()) for e in chunk]
        flag_rows = [flag_row(e, f) for e, flags in batch for f in flags]
        out.append((event_columns(batch), [list(c) for c in zip(*flag_rows)]))
    return out


def chdb_batches(events: list[ActivityEvent], batch_size: int, classified: Classified) -> list[tuple[str, str]]:
    out = []
    for events_columns, flag_columns in server_batches(events, batch_size, classified):
        out.append((json.dumps([_json_column(c) for c in events_columns], ensure_ascii=False),
                    json.dumps([_json_column(c) for c in flag_columns], ensure_ascii=False) if flag_columns else ""))
    return out


def run_raw_server(host: str, port: int, database: str, events, batch_size: int, from_events: bool,
                   classified: Classified) -> float:
    from clickhouse_driver import Client

    client = Client(host=host, port=port)
    events_sql = f"INSERT INTO {database}.events ({', '.join(EVENT_COLUMNS)}) VALUES"
    flags_sql = f"INSERT INTO {database}.flags ({', '.join(FLAG_COLUMNS)}) VALUES"
    prepared = None if from_events else server_batches(events, batch_size, classified)
    started = time.perf_counter()
    for events_columns, flag_columns in prepared or server_batches(events, batch_size, classified):
        client.execute(events_sql, events_columns, columnar=True)
        if flag_columns:
            client.execute(flags_sql, flag_columns, columnar=True)
    elapsed = time.perf_counter() - started
    client.disconnect()
    return elapsed


def run_raw_chdb(store, events, batch_size: int, from_events: bool, classified: Classified) -> float:
    session = store._session
    prepared = None if from_events else chdb_batches(events, batch_size, classified)
    started = time.perf_counter()
    for ev, fl in prepared or chdb_batches(events, batch_size, classified):
        for table, columns, payload in (("events", EVENT_COLUMNS, ev), ("flags", FLAG_COLUMNS, fl)):
            if payload:
                with session.send_insert(f"INSERT INTO {store.database}.{table} ({', '.join(columns)})",
                                         "JSONCompactColumns") as inserter:
                    inserter.append(payload)
                    inserter.finish()
    return time.perf_counter() - started


def run_replay(url: str, events: list[ActivityEvent], batch_size: int, classified: Classified) -> tuple[float, float]:
    """Seconds to store `events` with ``write`` and, into a table that already holds them
    (the first attempt landed), with ``write_missing``: what a retry or a spool replay pays
    for its lookup. The table holds the previous rows too, so the lookup is not on an empty one."""
    store = open_storage(url)
    store.migrate()
    batch = [(event, classified.classify(event.text) if event.text else []) for event in events]
    started = time.perf_counter()
    for chunk in batches(batch, batch_size):
        store.write(chunk)
    written = time.perf_counter() - started
    started = time.perf_counter()
    for chunk in batches(batch, batch_size):
        store.write_missing(chunk)
    replayed = time.perf_counter() - started
    store.close()
    return written, replayed


def latency(url: str, spool_dir: pathlib.Path, *, rate: int, seconds: float, batch_size: int,
            flush_interval: float) -> tuple[float, float, int]:
    """(p50, p99, samples) of capture-to-visible seconds at `rate` events/s."""
    store = open_storage(url)
    store.migrate()
    pipeline = Pipeline(marker_classifier(), store, Metrics(CollectorRegistry()), queue_size=100_000,
                        batch_size=batch_size, flush_interval=flush_interval, spool=Spool(spool_dir, max_bytes=1 << 30))
    captured: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()
    device = f"lat-{uuid.uuid4().hex[:6]}"

    def poll():
        while not stop.is_set():
            rows = store.query("SELECT toString(event_id) AS id FROM {database}.events FINAL WHERE device = {d:String}",
                               {"d": device})
            now = time.time()
            for row in rows:
                seen.setdefault(row["id"], now)
            time.sleep(0.01)

    pipeline.start()
    poller = threading.Thread(target=poll)
    poller.start()
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        target = start + i / rate
        while time.perf_counter() < target:
            time.sleep(max(0.0, min(0.001, target - time.perf_counter())))
        event = make_events(1, device_prefix="10.9")[0]
        if i % 20 == 0:  # one in twenty is timed
            event = ActivityEvent(**{**{f: getattr(event, f) for f in event.__dataclass_fields__}, "device": device,
                                     "time": utcnow()})
            captured[str(event.event_id)] = time.time()
        pipeline.submit(event)
    deadline = time.monotonic() + 30
    while len(seen) < len(captured) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    poller.join()
    pipeline.stop()
    store.close()
    delays = sorted(seen[i] - captured[i] for i in captured if i in seen)
    if len(delays) < len(captured):
        raise RuntimeError(f"{len(captured) - len(delays)} timed events never became visible")
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    return p50, p99, len(delays)


def keep_best(best: dict[str, float], key: str, seconds: float) -> None:
    best[key] = min(seconds, best.get(key, seconds))


WRITER_RUNS = (
    ("stored1", "writer, classified before, queue filled", True, True),
    ("stored0", "writer, classified before, producer", False, True),
    ("writer1", "writer + classifier, queue filled", True, False),
    ("writer0", "writer + classifier, producer", False, False),
)
"""(key, label, queue filled before the writer starts, classification taken out)."""


def report(backend: str, raw_name: str, best: dict[str, float], n: int) -> None:
    print(f"{backend:9s} {raw_name + ', insert only':40s}{n / best['raw0']:>9,.0f} events/s")
    print(f"{backend:9s} {raw_name + ', from events':40s}{n / best['raw1']:>9,.0f} events/s")
    for key, label, _, _ in WRITER_RUNS:
        print(f"{backend:9s} {label:40s}{n / best[key]:>9,.0f} events/s   ratio {best['raw1'] / best[key]:.2f} "
              f"of raw from events, {best['raw0'] / best[key]:.2f} of insert only")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    n, b = args.events, args.batch_size
    events = make_events(n)
    classified = Classified(events)

    with tempfile.TemporaryDirectory(prefix="sw-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        server = ClickHouseProcess(tmp / "clickhouse")
        info = server.start()
        try:
            print(f"{n} events ({n // 10} flagged), batches of {b}; ClickHouse {info.version} and chDB; "
                  "best of 3 runs each\n")
            # Interleaved rounds, best of each: the server's background merges hit all alike.
            best: dict[str, float] = {}
            for r in range(3):
                for from_events in (False, True):
                    database = f"raw{from_events:d}{r}"
                    open_storage(info.url_for(database)).migrate()
                    keep_best(best, f"raw{from_events:d}",
                              run_raw_server(info.host, info.port, database, events, b, from_events, classified))
                for key, _, prefilled, precomputed in WRITER_RUNS:
                    keep_best(best, key, run_writer(info.url_for(f"{key}_{r}"), events, b, tmp / f"spool-{key}-{r}",
                                                    prefilled, classified if precomputed else None))
            report("server", "raw columnar", best, n)
            written, replayed = run_replay(info.url_for("replay"), events, b, classified)
            print(f"server    retry/replay of stored batches: lookup {n / replayed:,.0f} events/s "
                  f"({replayed / written:.2f}x the time of writing them)")

            chdb_dir = tmp / "chdb"
            best = {}
            for r in range(3):
                for from_events in (False, True):
                    store = open_storage(f"chdb:{chdb_dir}?database=raw{from_events:d}{r}")
                    store.migrate()
                    keep_best(best, f"raw{from_events:d}", run_raw_chdb(store, events, b, from_events, classified))
                    store.close()
                for key, _, prefilled, precomputed in WRITER_RUNS:
                    keep_best(best, key, run_writer(f"chdb:{chdb_dir}?database={key}_{r}", events, b,
                                                    tmp / f"spool-c-{key}-{r}", prefilled,
                                                    classified if precomputed else None))
            report("embedded", "raw send_insert", best, n)

            print("\ncapture -> visible row (reader polls every 10 ms with FINAL), 1,000 events/s for 10 s:")
            for label, url in (("server", info.url_for("latency")), ("embedded", f"chdb:{chdb_dir}?database=latency")):
                for flush in (1.0, 0.1):
                    p50, p99, k = latency(url, tmp / f"spool-l-{label}-{flush}", rate=1000, seconds=10,
                                          batch_size=500, flush_interval=flush)
                    print(f"{label:9s} batch 500, flush {flush:.1f} s: p50 {p50 * 1000:6.0f} ms   "
                          f"p99 {p99 * 1000:6.0f} ms   ({k} timed events)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
