"""The writer process (storage.writer = "process"): real mitmdump with the addon, real HTTPS
clients, a real ClickHouse server. What the proxy sends the writer process is never lost:
not when the writer process is killed mid-stream, not when the proxy is stopped."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import time
import uuid

import pytest
from prometheus_client import CollectorRegistry

from socialwatch import writer_process
from socialwatch.config import load_config
from socialwatch.dashboards.metrics import Metrics
from socialwatch.events import new_event_id
from socialwatch.proxy_addons.interpreter import Capture
from support.processes import stop
from support.proxy import Proxy, running_mitmdump
from support.stored import stored_rows
from support.tls_certs import make_upstream_certs
from support.upstream import UpstreamServer

DISTRICT_SUBNET = "127.11.0.0/16"
DEVICE = "127.11.0.9"
FLAGGED = "nobody likes you, just kill yourself"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    certs = make_upstream_certs(tmp_path_factory.mktemp("upstream"), ["www.instagram.com"])
    with UpstreamServer(certs) as server:
        yield server, certs


def start_proxy(tmp_path: pathlib.Path, upstream, store, clickhouse_server, **options: str):
    server, certs = upstream
    return running_mitmdump(
        tmp_path / "proxy", storage_url=clickhouse_server.url_for(store.database), upstream_port=server.port,
        certs=certs, district_subnets=[DISTRICT_SUBNET], options={"socialwatch_writer": "process", **options},
    )


def writer_pids(proxy: Proxy) -> list[int]:
    """The proxy's writer processes (its children running socialwatch.writer_process). A thread
    or a child that ends while it is read is skipped: it is no writer any more."""
    pids = []
    for task in pathlib.Path(f"/proc/{proxy.process.pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in children:
            try:
                cmdline = pathlib.Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"socialwatch.writer_process" in cmdline:
                pids.append(int(child))
    return pids


def logged(proxy: Proxy, text: str, timeout: float = 10.0) -> bool:
    """Whether the proxy's log shows `text` within `timeout` (its output is buffered)."""
    deadline = time.monotonic() + timeout
    while text not in proxy.log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def post_comments(proxy: Proxy, run: str, start: int, count: int) -> None:
    """`count` Instagram comments, one in three flagged, at paths /api/v1/web/comments/RUN-N/add/."""
    with proxy.client(DEVICE) as client:
        for n in range(start, start + count):
            text = FLAGGED if n % 3 == 0 else f"see you at practice {n}"
            response = client.post(f"https://www.instagram.com/api/v1/web/comments/{run}-{n}/add/",
                                   data={"comment_text": text})
            assert response.status == 200


def counts(store, run: str) -> tuple[int, int]:
    """(events, flags) stored for this run's comments, counting every row (no FINAL): a copy would show."""
    [row] = store.query(
        "SELECT count() AS events, sum(flagged) AS flagged FROM {database}.events WHERE path LIKE {pattern:String}",
        {"pattern": f"/api/v1/web/comments/{run}-%"})
    [flags] = store.query(
        "SELECT count() AS flags FROM {database}.flags WHERE event_id IN "
        "(SELECT event_id FROM {database}.events WHERE path LIKE {pattern:String})",
        {"pattern": f"/api/v1/web/comments/{run}-%"})
    return row["events"], flags["flags"]


def wait_for_counts(store, run: str, expected: tuple[int, int], timeout: float = 30.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while counts(store, run) != expected and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(1.5)  # longer than a flush: a late copy would land now
    return counts(store, run)


def test_events_are_classified_and_written_by_a_writer_process_of_the_proxy(tmp_path, upstream, store,
                                                                            clickhouse_server):
    run = uuid.uuid4().hex[:8]
    with start_proxy(tmp_path, upstream, store, clickhouse_server) as proxy:
        [writer] = writer_pids(proxy)
        post_comments(proxy, run, 0, 6)
        assert wait_for_counts(store, run, (6, 2)) == (6, 2)
        [event] = stored_rows(store, "SELECT * FROM {database}.events WHERE path = {path:String}",
                              {"path": f"/api/v1/web/comments/{run}-0/add/"})
        assert (event["platform"], event["action"], event["flagged"]) == ("instagram", "comment", 1)
        # The writer's metrics are the proxy's: one /metrics endpoint.
        assert proxy.sample("socialwatch_storage_rows_written_total", table="events") >= 6
        assert proxy.sample("socialwatch_flags_total", category="bullying", severity="high", school="") >= 2
        assert proxy.sample("socialwatch_classification_duration_seconds_count") >= 6
        assert proxy.sample("socialwatch_writer_process_restarts_total") == 0
        assert writer_pids(proxy) == [writer]


def test_events_survive_the_writer_process_being_killed_and_are_stored_once(tmp_path, upstream, store,
                                                                            clickhouse_server):
    run = uuid.uuid4().hex[:8]
    config = tmp_path / "socialwatch.toml"
    config.write_text("[storage]\nflush_interval_seconds = 3\n")
    with start_proxy(tmp_path, upstream, store, clickhouse_server, socialwatch_config=str(config)) as proxy:
        # Killed before its batch was written: the proxy sends those events to the next writer.
        post_comments(proxy, run, 0, 20)
        [first] = writer_pids(proxy)
        os.kill(first, signal.SIGKILL)
        # More traffic only once the proxy has seen the death: sent before, it too would go to
        # the dead writer, and be re-sent with the first 20.
        assert logged(proxy, "re-sending")
        resent = int(re.search(r"re-sending (\d+) events", proxy.log.read_text()).group(1))
        assert 1 <= resent <= 20, "the dead writer's unwritten events were sent again"
        post_comments(proxy, run, 20, 20)
        assert wait_for_counts(store, run, (40, 14)) == (40, 14)
        [second] = writer_pids(proxy)
        assert second != first
        # Killed as soon as its batch is in storage, most likely before it confirmed it: the
        # next writer gets those events again and writes only what is missing.
        post_comments(proxy, run, 40, 20)
        while counts(store, run)[0] < 60:
            time.sleep(0.01)
        os.kill(second, signal.SIGKILL)
        assert wait_for_counts(store, run, (60, 20)) == (60, 20)
        assert proxy.sample("socialwatch_writer_process_restarts_total") == 2
        assert proxy.sample("socialwatch_events_dropped_total", reason="queue_full") == 0


def test_what_is_queued_is_written_when_the_proxy_stops(tmp_path, upstream, store, clickhouse_server):
    run = uuid.uuid4().hex[:8]
    config = tmp_path / "socialwatch.toml"
    config.write_text("[storage]\nflush_interval_seconds = 30\n")  # nothing would be written for 30 s
    with start_proxy(tmp_path, upstream, store, clickhouse_server, socialwatch_config=str(config)) as proxy:
        post_comments(proxy, run, 0, 9)
        [writer] = writer_pids(proxy)
        assert counts(store, run) == (0, 0)
        stop(proxy.process)
    assert not pathlib.Path(f"/proc/{writer}").exists(), "the writer process ends with the proxy"
    assert counts(store, run) == (9, 3)


def test_the_writer_process_runs_on_the_cpus_it_is_given(tmp_path, upstream, store, clickhouse_server):
    cpu = min(os.sched_getaffinity(0))
    with start_proxy(tmp_path, upstream, store, clickhouse_server, socialwatch_config=str(_cpus(tmp_path, cpu))) \
            as proxy:
        [writer] = writer_pids(proxy)
        assert os.sched_getaffinity(writer) == {cpu}


def _cpus(tmp_path: pathlib.Path, cpu: int) -> pathlib.Path:
    path = tmp_path / "cpus.toml"
    path.write_text(f"[storage]\nwriter_cpus = [{cpu}]\n")
    return path


def test_past_the_held_bytes_bound_a_capture_is_kept_without_its_body(monkeypatch):
    monkeypatch.setattr(writer_process, "MAX_HELD_BODY_BYTES", 1000)
    config = load_config(None, {"storage.url": "clickhouse://127.0.0.1:1/x", "storage.writer": "process"})
    writer = writer_process.WriterProcess(config, Metrics(CollectorRegistry()))  # not started: nothing is sent

    def upload(size: int) -> Capture:
        return Capture("http", new_event_id(), time.time(), DEVICE, "instagram", "www.instagram.com",
                       method="POST", path="/upload", body=b"x" * size)

    for capture in (upload(600), upload(600), upload(300)):
        assert writer.submit(capture)
    held = [(len(c.body or b""), c.body_skipped) for c in writer._pending]
    assert held == [(600, ""), (0, "writer_backlog"), (300, "")], "the event is kept; only its body is not"
