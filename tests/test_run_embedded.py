"""`socialwatch run` on the embedded default: proxy, classifier, chDB storage and metrics in one process."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.processes import free_port, wait_for_port
from support.proxy import Proxy
from support.review_site import loopback_client, sign_in
from support.tls_certs import make_upstream_certs
from support.upstream import UpstreamServer

BIN = Path(sys.executable).parent
REDIRECT = Path(__file__).parent / "support" / "upstream_redirect.py"


@pytest.fixture
def upstream(tmp_path):
    certs = make_upstream_certs(tmp_path / "upstream", ["www.instagram.com"])
    with UpstreamServer(certs) as server:
        yield server, certs


def stored(workdir: Path, sql: str) -> list[dict]:
    """Read the run's chDB store from a separate process, as an operator would after it stopped."""
    code = (
        "import json, sys; from socialwatch.storage import open_storage; "
        "s = open_storage(sys.argv[1]); print(json.dumps(s.query(sys.argv[2])))"
    )
    out = subprocess.run([sys.executable, "-c", code, "chdb:var/socialwatch.chdb", sql], cwd=workdir,
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def activity_count(proxy: Proxy, timeout: float = 10.0) -> float:
    """Instagram comments counted on /metrics (counted once the response has streamed to the client)."""
    deadline = time.monotonic() + timeout
    while True:
        for family in text_string_to_metric_families(proxy.metrics()):
            for sample in family.samples:
                if sample.name == "socialwatch_activity_events_total" and sample.labels == {
                        "platform": "instagram", "action": "comment", "school": ""}:
                    return sample.value
        if time.monotonic() > deadline:
            return 0.0
        time.sleep(0.1)


def test_run_records_a_flagged_comment_into_the_embedded_store(tmp_path, upstream):
    server, certs = upstream
    workdir = tmp_path / "appliance"
    workdir.mkdir()
    config = Path(__file__).resolve().parents[1] / "socialwatch.example.toml"
    proxy = Proxy(port=free_port(), metrics_port=free_port(), confdir=workdir / "var" / "mitmproxy",
                  log=workdir / "run.log")
    review_port = free_port()
    subprocess.run([str(BIN / "socialwatch"), "review", "user", "add", "ada", "--role", "administrator",
                    "--password-stdin", "--config", str(config)], input="correct horse battery staple\n",
                   cwd=workdir, check=True, capture_output=True, text=True, timeout=60)
    args = [
        str(BIN / "socialwatch"), "run", "--config", str(config),
        "--listen-port", str(proxy.port), "--metrics-port", str(proxy.metrics_port),
        "--review-port", str(review_port),
        "--", "-s", str(REDIRECT), "--set", f"upstream_redirect=127.0.0.1:{server.port}",
        "--set", f"ssl_verify_upstream_trusted_ca={certs.ca_pem}",
    ]
    with proxy.log.open("wb") as log:
        process = subprocess.Popen(args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(proxy.port, process, proxy.log)
        wait_for_port(proxy.metrics_port, process, proxy.log)
        with proxy.client("127.0.0.1") as client:
            response = client.post("https://www.instagram.com/api/v1/web/comments/77/add/",
                                   data={"comment_text": "i want to die"})
        assert response.status == 200
        assert activity_count(proxy) == 1
        # The counselor review application is served by the same process (only it can open the store).
        wait_for_port(review_port, process, proxy.log)
        review = loopback_client(f"http://127.0.0.1:{review_port}")
        sign_in(review, "ada", "correct horse battery staple")
        deadline = time.monotonic() + 10  # the writer flushes within a second
        while '<span class="category">self harm</span>' not in (queue := review.get("/queue").text):
            assert time.monotonic() < deadline, queue
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    log = proxy.log.read_text()
    assert "PASSWORD" not in log
    assert stored(workdir, "SELECT platform, action, flagged FROM socialwatch.events") == [
        {"platform": "instagram", "action": "comment", "flagged": 1}
    ]
    [flag] = stored(workdir, "SELECT category, text FROM socialwatch.flags")
    assert flag == {"category": "self_harm", "text": "i want to die"}
