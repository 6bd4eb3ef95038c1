"""The pipeline between the proxy and storage, against a real ClickHouse server.

It never blocks the proxy, batches by size and by time, keeps text only for
flagged events, survives storage failures by retrying, and counts every event
it cannot keep.
"""

import dataclasses
import datetime
import time
import uuid

import pytest
from prometheus_client import CollectorRegistry

from socialwatch.classifier import Classifier, Flag
from socialwatch.dashboards.metrics import Metrics
from socialwatch.events import ActivityEvent, utcnow
from socialwatch.pipeline import Pipeline
from socialwatch.storage import open_storage
from socialwatch.storage.spool import Spool
from support.marker_classifier import FLAGGED_PHRASE, marker_classifier


@pytest.fixture(scope="module")
def classifier():
    return Classifier.load()


def event(text: str = "", device: str = "10.0.0.5") -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.uuid4(), time=utcnow(), device=device, person="", platform="instagram",
        host="www.instagram.com", method="POST", path="/api/v1/web/comments/1/add/", action="comment",
        status=200, request_bytes=len(text), response_bytes=10, text=text,
    )


def pipeline(classifier, store, **settings) -> tuple[Pipeline, Metrics]:
    metrics = Metrics(CollectorRegistry())
    options = {"queue_size": 100, "batch_size": 50, "flush_interval": 0.2, **settings}
    return Pipeline(classifier, store, metrics, **options), metrics


def value(metrics: Metrics, name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def wait_for_count(store, table: str, expected: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        [row] = store.query(f"SELECT count() AS n FROM {{database}}.{table}")
        if row["n"] >= expected or time.monotonic() > deadline:
            return row["n"]
        time.sleep(0.05)


def test_events_are_classified_and_written_and_text_is_kept_only_when_flagged(classifier, store):
    p, metrics = pipeline(classifier, store)
    p.start()
    assert p.submit(event("i want to die"))
    assert p.submit(event("see you at practice"))
    assert p.submit(event())
    assert wait_for_count(store, "events", 3) == 3
    p.stop()
    [flag] = store.query("SELECT category, text FROM {database}.flags")
    assert flag == {"category": "self_harm", "text": "i want to die"}
    assert value(metrics, "socialwatch_storage_rows_written_total", table="events") == 3
    assert value(metrics, "socialwatch_storage_rows_written_total", table="flags") == 1
    assert value(metrics, "socialwatch_classification_duration_seconds_count") == 2, "empty text is not classified"


def test_a_pipeline_without_a_classifier_writes_metadata_and_refuses_text(store):
    """The passive sensor's writer: its events are names only, so it loads no lexicon."""
    p, metrics = pipeline(None, store)
    p.start()
    assert p.submit(event())
    with pytest.raises(ValueError, match="no classifier"):
        p.submit(event("i want to die"))
    assert wait_for_count(store, "events", 1) == 1
    p.stop()
    assert value(metrics, "socialwatch_storage_rows_written_total", table="events") == 1
    assert value(metrics, "socialwatch_classification_duration_seconds_count") == 0


def test_policy_flags_raised_at_capture_are_stored_and_counted_with_the_school(classifier, store):
    coppa = Flag("coppa", "medium", 1.0, 1.0, (), "coppa: a student aged 12 or under used tiktok")
    p, metrics = pipeline(classifier, store)
    p.start()
    p.submit(dataclasses.replace(event(), platform="tiktok", school="Example MS", age_band="under_13", policy=(coppa,)))
    assert wait_for_count(store, "flags", 1) == 1
    p.stop()
    [flag] = store.query("SELECT category, school, age_band, text FROM {database}.flags")
    assert flag == {"category": "coppa", "school": "Example MS", "age_band": "under_13", "text": ""}
    assert value(metrics, "socialwatch_flags_total", category="coppa", severity="medium", school="Example MS") == 1


def test_flagged_text_is_stored_with_personal_information_redacted_at_the_same_offsets(classifier, store):
    text = "i want to die. call me at 617-555-0123 tonight"
    p, _ = pipeline(classifier, store)
    p.start()
    p.submit(event(text))
    assert wait_for_count(store, "flags", 1) >= 1
    p.stop()
    rows = store.query("SELECT category, text, match_phrase, match_start, match_end FROM {database}.flags")
    stored = {row["text"] for row in rows}
    assert len(stored) == 1 and "617" not in stored.pop()
    for row in rows:
        assert len(row["text"]) == len(text), "redaction keeps the length"
        for start, end in zip(row["match_start"], row["match_end"]):
            if row["category"] != "pii":
                assert row["text"][start:end] == text[start:end], "unredacted matches stay where they were"
    assert {"self_harm", "pii"} <= {row["category"] for row in rows}


def test_a_partial_batch_is_written_after_the_flush_interval(classifier, store):
    p, _ = pipeline(classifier, store, batch_size=1000, flush_interval=0.3)
    p.start()
    p.submit(event())
    started = time.monotonic()
    assert wait_for_count(store, "events", 1) == 1
    assert time.monotonic() - started < 5
    p.stop()


def test_a_full_batch_is_written_in_one_insert(classifier, store):
    p, _ = pipeline(classifier, store, batch_size=20, flush_interval=30)
    for _ in range(20):
        p.submit(event())
    p.start()
    assert wait_for_count(store, "events", 20, timeout=5) == 20, "written by size, long before the 30 s interval"
    started = time.monotonic()
    p.stop()
    assert time.monotonic() - started < 2, "an idle writer stops at once"


def test_a_full_queue_drops_and_counts_without_blocking(classifier, store):
    p, metrics = pipeline(classifier, store, queue_size=3)
    started = time.monotonic()
    accepted = [p.submit(event()) for _ in range(5)]
    assert time.monotonic() - started < 0.5
    assert accepted == [True, True, True, False, False]
    assert value(metrics, "socialwatch_events_dropped_total", reason="queue_full") == 2
    assert value(metrics, "socialwatch_event_queue_depth") == 3
    p.start()
    assert wait_for_count(store, "events", 3) == 3
    p.stop()


def test_a_failed_insert_is_retried_until_storage_is_back(classifier, clickhouse_server):
    # The database does not exist yet: inserts fail until it is migrated.
    store = open_storage(clickhouse_server.url_for(f"late_{uuid.uuid4().hex[:8]}"))
    p, metrics = pipeline(classifier, store, flush_interval=0.1)
    p.start()
    p.submit(event("kill yourself"))
    deadline = time.monotonic() + 10
    while value(metrics, "socialwatch_storage_insert_errors_total") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value(metrics, "socialwatch_storage_insert_errors_total") >= 1
    store.migrate()
    assert wait_for_count(store, "flags", 1) == 1
    assert wait_for_count(store, "events", 1) == 1
    p.stop()
    assert value(metrics, "socialwatch_events_dropped_total", reason="unsent_at_shutdown") == 0
    store.close()


def test_stop_writes_the_partial_batch(classifier, store):
    p, metrics = pipeline(classifier, store, batch_size=1000, flush_interval=30)
    p.start()
    for _ in range(3):
        p.submit(event())
    time.sleep(0.2)
    p.stop()
    assert wait_for_count(store, "events", 3, timeout=0) == 3
    assert value(metrics, "socialwatch_events_dropped_total", reason="unsent_at_shutdown") == 0


def test_events_that_cannot_be_written_by_shutdown_are_counted(classifier):
    store = open_storage("clickhouse://default:@127.0.0.1:9/never?connect_timeout=0.2")
    p, metrics = pipeline(classifier, store, flush_interval=0.05)
    p.start()
    for _ in range(4):
        p.submit(event())
    time.sleep(0.3)
    p.stop(timeout=5)
    assert value(metrics, "socialwatch_events_dropped_total", reason="unsent_at_shutdown") == 4
    store.close()


# -- the spool -------------------------------------------------------------------
# These use a stand-in classifier that flags one phrase: they are about where
# events go, not about lexicons.

def spooling_pipeline(store, spool_dir, **settings) -> tuple[Pipeline, Metrics]:
    metrics = Metrics(CollectorRegistry())
    spool = Spool(spool_dir, max_bytes=1 << 24)
    options = {"queue_size": 100, "batch_size": 50, "flush_interval": 0.05, "spool": spool,
               "retries_before_spooling": 0, **settings}
    return Pipeline(marker_classifier(), store, metrics, **options), metrics


def test_while_storage_is_down_events_wait_in_the_spool_and_the_metrics_say_so(clickhouse_server, tmp_path):
    store = open_storage(clickhouse_server.url_for(f"spooled_{uuid.uuid4().hex[:8]}"))  # not migrated yet
    p, metrics = spooling_pipeline(store, tmp_path / "spool")
    captured = utcnow() - datetime.timedelta(seconds=60)
    p.start()
    for _ in range(5):
        p.submit(dataclasses.replace(event(FLAGGED_PHRASE), time=captured))
    deadline = time.monotonic() + 10
    while value(metrics, "socialwatch_spooled_events_total") < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value(metrics, "socialwatch_spooled_events_total") == 5
    assert value(metrics, "socialwatch_spool_bytes") == p.spool.bytes > 0
    assert value(metrics, "socialwatch_spool_segments") == 1
    assert 60 <= value(metrics, "socialwatch_oldest_unsent_event_age_seconds") < 70
    assert value(metrics, "socialwatch_storage_insert_errors_total") >= 1
    assert value(metrics, "socialwatch_storage_rows_written_total", table="events") == 0

    store.migrate()
    assert wait_for_count(store, "events", 5) == 5
    deadline = time.monotonic() + 10
    while p.spool.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    p.stop()
    assert value(metrics, "socialwatch_spool_bytes") == 0
    assert value(metrics, "socialwatch_spool_segments") == 0
    assert value(metrics, "socialwatch_oldest_unsent_event_age_seconds") == 0
    assert value(metrics, "socialwatch_spool_replayed_events_total") == 5
    assert value(metrics, "socialwatch_storage_insert_retries_total") >= 1
    assert value(metrics, "socialwatch_storage_insert_duration_seconds_count") >= 1
    assert value(metrics, "socialwatch_storage_rows_written_total", table="flags") == 5
    store.close()


def test_stop_spools_what_it_cannot_write_and_the_next_start_replays_it(clickhouse_server, tmp_path):
    down = open_storage("clickhouse://default:@127.0.0.1:9/never?connect_timeout=0.2")
    p, metrics = spooling_pipeline(down, tmp_path / "spool", batch_size=1000, flush_interval=30)
    p.start()
    for _ in range(4):
        p.submit(event())
    time.sleep(0.1)
    p.stop(timeout=5)
    down.close()
    assert value(metrics, "socialwatch_events_dropped_total", reason="unsent_at_shutdown") == 0
    assert value(metrics, "socialwatch_spooled_events_total") == 4

    store = open_storage(clickhouse_server.url_for(f"restart_{uuid.uuid4().hex[:8]}"))
    store.migrate()
    again, _ = spooling_pipeline(store, tmp_path / "spool")
    assert again.spool.pending == 1
    again.start()
    assert wait_for_count(store, "events", 4) == 4
    again.stop()
    store.close()


def test_the_configuration_decides_the_spool(tmp_path):
    from socialwatch.config import load_config

    store = open_storage("clickhouse://default:@127.0.0.1:9/never")
    config = load_config(None, {"spool.directory": str(tmp_path / "s"), "spool.fsync": "never",
                                "spool.max_bytes": 65536, "spool.retries_before_spooling": 7})
    p = Pipeline.from_config(marker_classifier(), store, Metrics(CollectorRegistry()), config)
    assert (p.spool.directory, p.spool.fsync, p.spool.max_bytes, p.retries_before_spooling) == \
        (tmp_path / "s", "never", 65536, 7)
    without = load_config(None, {"spool.directory": ""})
    assert Pipeline.from_config(marker_classifier(), store, Metrics(CollectorRegistry()), without).spool is None
    store.close()
