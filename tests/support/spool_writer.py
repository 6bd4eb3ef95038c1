"""A writer process for the kill tests: the Pipeline with an on-disk spool, as `socialwatch run` has it.

    python spool_writer.py produce --storage-url URL --spool DIR --count N --ready FILE
        submits N deterministic events (every 10th with flagged text, the others with
        unflagged text), waits until every one is stored or spooled, touches FILE,
        then waits to be killed.
    python spool_writer.py replay --storage-url URL --spool DIR [--pause-after-insert S]
        replays the spool into storage and exits 0 once it is empty. With a pause, each
        replayed batch waits S seconds after its insert and before its acknowledgement,
        the widest window for a kill to leave a record written but not acknowledged.
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import sys
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for support.*

from prometheus_client import CollectorRegistry
from socialwatch.dashboards.metrics import Metrics
from socialwatch.storage import open_storage
from socialwatch.storage.spool import Spool
from support.marker_classifier import FLAGGED_PHRASE, marker_classifier

from socialwatch.events import ActivityEvent
from socialwatch.pipeline import Pipeline

NAMESPACE = uuid.UUID("5b0c1a52-7d1f-4d3e-9a51-3f1c2b7e8a90")
FLAGGED_TEXT = FLAGGED_PHRASE
UNFLAGGED_MARKER = "zq9-unflagged-marker"
T0 = datetime.datetime(2026, 9, 1, 8, 0, tzinfo=datetime.UTC)


def event(i: int) -> ActivityEvent:
    text = FLAGGED_TEXT if i % 10 == 0 else f"see you at practice {UNFLAGGED_MARKER} {i}"
    return ActivityEvent(
        event_id=uuid.uuid5(NAMESPACE, str(i)), time=T0 + datetime.timedelta(seconds=i),
        device=f"10.0.{i % 7}.{i % 250}", person="", platform="instagram", host="www.instagram.com",
        method="POST", path="/api/v1/web/comments/1/add/", action="comment", status=200,
        request_bytes=len(text), response_bytes=10, text=text,
    )


class SlowAfterInsert:
    """A storage whose writes pause after the insert succeeded."""

    def __init__(self, storage, pause: float):
        self.storage, self.pause = storage, pause

    def write(self, batch):
        self.storage.write(batch)
        time.sleep(self.pause)

    def write_missing(self, batch):
        written = self.storage.write_missing(batch)
        time.sleep(self.pause)
        return written

    def __getattr__(self, name):
        return getattr(self.storage, name)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["produce", "replay"])
    parser.add_argument("--storage-url", required=True)
    parser.add_argument("--spool", required=True, type=pathlib.Path)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--ready", type=pathlib.Path)
    parser.add_argument("--pause-after-insert", type=float, default=0.0)
    args = parser.parse_args()

    storage = open_storage(args.storage_url)
    if args.pause_after_insert:
        storage = SlowAfterInsert(storage, args.pause_after_insert)
    metrics = Metrics(CollectorRegistry())
    spool = Spool(args.spool, max_bytes=1 << 30, fsync="always")
    pipeline = Pipeline(marker_classifier(), storage, metrics, queue_size=100_000, batch_size=100,
                        flush_interval=0.05, spool=spool, retries_before_spooling=0)
    pipeline.start()
    if args.mode == "produce":
        for i in range(args.count):
            if not pipeline.submit(event(i)):
                print(f"event {i} dropped", file=sys.stderr)
                return 1
        done = lambda: (metrics.spooled_events._value.get()
                        + metrics.rows_written.labels(table="events")._value.get())
        while done() < args.count:
            time.sleep(0.05)
        # Whole or not at all: the test reads the file as soon as it exists.
        partial = args.ready.with_name(args.ready.name + ".partial")
        partial.write_text(f"{spool.pending}\n")
        partial.rename(args.ready)
        while True:
            time.sleep(1)
    while spool.pending:
        time.sleep(0.05)
    pipeline.stop()
    print("replayed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
