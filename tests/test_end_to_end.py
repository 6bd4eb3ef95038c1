"""End to end: real mitmdump with the addon, real HTTPS clients, a real ClickHouse server.

The public internet is the only thing faked: every upstream connection of the
proxy goes to a local HTTPS server that holds certificates for the platform
host names, from a test CA the proxy is told to trust.
"""

from __future__ import annotations

import gzip
import json
import ssl
import subprocess
import time
import uuid

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from socialwatch.storage import open_storage
from support.prometheus_server import running_prometheus
from support.proxy import Proxy, running_mitmdump
from support.stored import stored_rows
from support.tls_certs import UPSTREAM_CA_NAME, make_upstream_certs
from support.upstream import UpstreamServer

DISTRICT_SUBNET = "127.10.0.0/16"
DISTRICT_DEVICE = "127.10.0.5"
OUTSIDE_DEVICE = "127.20.0.5"
MAX_BODY_BYTES = 4096
HOSTS = ["www.instagram.com", "i.instagram.com", "www.example.org", "scontent.cdninstagram.com", "mega.nz"]
PINNED_APP_DEVICE = "127.10.0.77"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    certs = make_upstream_certs(tmp_path_factory.mktemp("upstream"), HOSTS)
    with UpstreamServer(certs) as server:
        yield server, certs


@pytest.fixture(scope="module")
def store(clickhouse_server):
    store = open_storage(clickhouse_server.url_for(f"e2e_{uuid.uuid4().hex[:8]}"))
    yield store
    store.close()


@pytest.fixture(scope="module", params=["thread", "process"])
def proxy(request, tmp_path_factory, upstream, store, clickhouse_server) -> Proxy:
    """The proxy, with events classified and written in a thread of its own process, then in a
    writer process (storage.writer): every test here holds for both."""
    server, certs = upstream
    with running_mitmdump(
        tmp_path_factory.mktemp("proxy"),
        storage_url=clickhouse_server.url_for(store.database),
        upstream_port=server.port,
        certs=certs,
        district_subnets=[DISTRICT_SUBNET],
        options={"socialwatch_max_body_bytes": str(MAX_BODY_BYTES), "socialwatch_writer": request.param},
    ) as proxy:
        yield proxy


def comment_url() -> str:
    """A fresh Instagram comment endpoint, so each test finds its own rows."""
    return f"https://www.instagram.com/api/v1/web/comments/{uuid.uuid4().int % 10**12}/add/"


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?")[0]


def events_at(store, path: str, **kw) -> list[dict]:
    return stored_rows(store, "SELECT * FROM {database}.events WHERE path = {path:String}", {"path": path}, **kw)


def counter(proxy: Proxy, name: str, **labels: str) -> float:
    return proxy.sample(name, **labels)


def counted(proxy: Proxy, name: str, at_least: float, timeout: float = 5.0, **labels: str) -> float:
    """The counter once it reaches `at_least` (or `timeout` passes). A writer process reports
    what it counts a fraction of a second after it counts it."""
    deadline = time.monotonic() + timeout
    while (value := counter(proxy, name, **labels)) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def tunnel_issuer(proxy: Proxy, source_ip: str, host: str, trust: list) -> str:
    """CONNECT through the proxy from `source_ip`, GET /, return the common name of the cert's issuer."""
    conn = proxy.client(source_ip, trust=trust).connect(host)
    try:
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        certificate = x509.load_der_x509_certificate(conn.sock.getpeercert(binary_form=True))
    finally:
        conn.close()
    return certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_a_bullying_comment_from_a_district_device_is_recorded_flagged_and_counted(proxy, store):
    url = comment_url()
    with proxy.client(DISTRICT_DEVICE) as client:
        response = client.post(url, data={"comment_text": "nobody likes you, just kill yourself", "media_id": "31"})
    assert response.status == 200

    [event] = events_at(store, path_of(url))
    assert event["platform"] == "instagram"
    assert event["action"] == "comment"
    assert event["device"] == DISTRICT_DEVICE
    assert event["host"] == "www.instagram.com"
    assert event["method"] == "POST"
    assert event["status"] == 200
    assert event["request_bytes"] > 0 and event["response_bytes"] > 0
    assert event["flagged"] == 1
    assert (event["source"], event["protocol"]) == ("proxy", "https")

    flags = stored_rows(store, "SELECT * FROM {database}.flags WHERE event_id = {id:UUID}", {"id": event["event_id"]})
    assert [f["category"] for f in flags] == ["bullying"]
    flag = flags[0]
    assert "kill yourself" in flag["match_phrase"]
    start = flag["match_start"][flag["match_phrase"].index("kill yourself")]
    assert flag["text"][start:start + len("kill yourself")] == "kill yourself"
    assert "31" not in flag["text"], "only the fields a person writes are extracted"

    assert counted(proxy, "socialwatch_activity_events_total", 1, platform="instagram", action="comment", school="") >= 1
    assert counted(proxy, "socialwatch_flags_total", 1, category="bullying", severity=flag["severity"], school="") >= 1
    assert counted(proxy, "socialwatch_storage_rows_written_total", 1, table="flags") >= 1
    assert counted(proxy, "socialwatch_classification_duration_seconds_count", 1) >= 1


def test_an_unflagged_post_is_stored_as_metadata_only(proxy, store):
    url = comment_url()
    words = f"great game today {uuid.uuid4().hex}"
    with proxy.client(DISTRICT_DEVICE) as client:
        assert client.post(url, json={"comment_text": words}).status == 200

    [event] = events_at(store, path_of(url))
    assert event["flagged"] == 0
    assert stored_rows(store, "SELECT * FROM {database}.flags WHERE event_id = {id:UUID}", {"id": event["event_id"]}, at_least=0,
                timeout=0) == []
    for table in ("events", "flags"):
        dump = json.dumps(store.query(f"SELECT * FROM {{database}}.{table}"))
        assert words.split()[-1] not in dump, f"unflagged text leaked into {table}"


def test_browsing_is_recorded_as_a_view(proxy, store):
    with proxy.client(DISTRICT_DEVICE) as client:
        assert client.get("https://www.instagram.com/explore/?q=secret-search").status == 200
    [event] = events_at(store, "/explore/")
    assert (event["action"], event["method"], event["flagged"]) == ("view", "GET", 0)
    assert "secret-search" not in json.dumps(store.query("SELECT path FROM {database}.events"))


def test_a_site_that_is_not_social_media_is_passed_through_undecrypted(proxy, store, upstream):
    server, certs = upstream
    before = counter(proxy, "socialwatch_connections_passed_through_total", reason="not_social")
    issuer = tunnel_issuer(proxy, DISTRICT_DEVICE, "www.example.org", trust=[proxy.ca_pem, certs.ca_pem])
    assert issuer == UPSTREAM_CA_NAME, "the client must see the site's own certificate, not the proxy's"
    assert ("GET", "www.example.org", "/", 0) in server.requests
    assert counter(proxy, "socialwatch_connections_passed_through_total", reason="not_social") == before + 1
    time.sleep(1.5)  # one flush interval: anything recorded would have landed
    assert store.query("SELECT count() AS n FROM {database}.events WHERE host = 'www.example.org'") == [{"n": 0}]


def test_a_device_outside_the_district_is_neither_decrypted_nor_recorded(proxy, store, upstream):
    server, certs = upstream
    issuer = tunnel_issuer(proxy, OUTSIDE_DEVICE, "www.instagram.com", trust=[proxy.ca_pem, certs.ca_pem])
    assert issuer == UPSTREAM_CA_NAME
    time.sleep(1.5)
    assert store.query(
        "SELECT count() AS n FROM {database}.events WHERE device = {d:String}", {"d": OUTSIDE_DEVICE}
    ) == [{"n": 0}]


@pytest.mark.parametrize("host, platform, action", [
    ("scontent.cdninstagram.com", "instagram", "media"),
    ("mega.nz", "mega", "connect"),
])
def test_media_and_file_sharing_hosts_pass_through_and_are_recorded_as_metadata(proxy, store, upstream, host,
                                                                                 platform, action):
    _, certs = upstream
    assert tunnel_issuer(proxy, DISTRICT_DEVICE, host, trust=[proxy.ca_pem, certs.ca_pem]) == UPSTREAM_CA_NAME
    [event] = stored_rows(store, "SELECT * FROM {database}.events WHERE host = {host:String}", {"host": host})
    assert (event["platform"], event["action"], event["source"], event["protocol"], event["device"]) == (
        platform, action, "passthrough", "tls", DISTRICT_DEVICE)
    assert event["path"] == "" and event["flagged"] == 0


def test_a_pinned_app_that_refuses_the_proxy_certificate_is_passed_through_next_time(proxy, store, upstream):
    _, certs = upstream
    app = proxy.client(PINNED_APP_DEVICE, trust=[certs.ca_pem], trust_proxy=False)
    with pytest.raises(ssl.SSLCertVerificationError):
        app.get("https://i.instagram.com/api/v1/feed/timeline/")
    deadline = time.monotonic() + 5
    while counter(proxy, "socialwatch_pinned_clients_detected_total") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.get("https://i.instagram.com/api/v1/feed/timeline/").status == 200
    assert tunnel_issuer(proxy, PINNED_APP_DEVICE, "i.instagram.com", trust=[certs.ca_pem]) == UPSTREAM_CA_NAME
    assert counter(proxy, "socialwatch_connections_passed_through_total", reason="pinned") >= 2
    events = stored_rows(store, "SELECT * FROM {database}.events WHERE device = {d:String}", {"d": PINNED_APP_DEVICE},
                  at_least=2)
    assert {(e["platform"], e["source"], e["host"]) for e in events} == {("instagram", "passthrough", "i.instagram.com")}
    assert "/api/v1/feed/timeline/" not in {e["path"] for e in events}, "a pinned connection is never decrypted"


def test_the_district_device_gets_the_proxy_certificate_for_a_platform(proxy, upstream):
    _, certs = upstream
    assert tunnel_issuer(proxy, DISTRICT_DEVICE, "www.instagram.com", trust=[proxy.ca_pem, certs.ca_pem]) == "mitmproxy"


GZIP_BOMB = gzip.compress(b'{"comment_text": "' + b"a" * 2_000_000 + b'"}')
assert len(GZIP_BOMB) < MAX_BODY_BYTES, "the bomb must pass the on-the-wire size check"

BAD_BODIES = [
    pytest.param("malformed_json", {"content-type": "application/json"}, b'{"comment_text": "kill yourself', id="malformed-json"),
    pytest.param("malformed_form", {"content-type": "application/x-www-form-urlencoded"}, b"comment_text&&=&", id="malformed-form"),
    pytest.param("invalid_utf8", {"content-type": "application/x-www-form-urlencoded"}, b"comment_text=kill%20yourself%FF%FE", id="invalid-utf8-form"),
    pytest.param("invalid_utf8", {"content-type": "application/json"}, b'{"comment_text": "\xff\xfe kill yourself"}', id="invalid-utf8-json"),
    pytest.param("too_large", {"content-type": "application/json"}, b'{"comment_text": "' + b"a" * MAX_BODY_BYTES + b'"}', id="over-size-limit"),
    pytest.param("too_large", {"content-type": "application/json", "content-encoding": "gzip"},
                 GZIP_BOMB, id="gzip-bomb"),
    pytest.param("unsupported_encoding", {"content-type": "application/json", "content-encoding": "compress"}, b"xx", id="unknown-encoding"),
]


@pytest.mark.parametrize("reason, headers, body", BAD_BODIES)
def test_a_bad_body_is_skipped_and_counted_and_the_proxy_keeps_serving(proxy, store, reason, headers, body):
    before = counter(proxy, "socialwatch_bodies_skipped_total", reason=reason)
    url = comment_url()
    with proxy.client(DISTRICT_DEVICE) as client:
        assert client.post(url, content=body, headers=headers).status == 200
        assert client.get("https://www.instagram.com/").status == 200, "the proxy keeps serving"
    assert counted(proxy, "socialwatch_bodies_skipped_total", before + 1, reason=reason) == before + 1
    [event] = events_at(store, path_of(url))
    assert (event["action"], event["flagged"]) == ("comment", 0), "the metadata is still recorded"


def test_no_metric_carries_a_device_or_user_label(proxy):
    forbidden = {"device", "user", "client", "ip", "host", "path", "student"}
    for family in text_string_to_metric_families(proxy.metrics()):
        if family.name.startswith("socialwatch_"):
            for sample in family.samples:
                assert not forbidden & set(sample.labels), sample


def test_the_metrics_pass_promtool_check(proxy):
    result = subprocess.run(["promtool", "check", "metrics"], input=proxy.metrics(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_a_real_prometheus_scrapes_activity_and_flags(proxy, tmp_path_factory):
    with proxy.client(DISTRICT_DEVICE) as client:
        client.post(comment_url(), data={"comment_text": "kill yourself"})
    target = f"127.0.0.1:{proxy.metrics_port}"
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), [target]) as prometheus:
        [activity] = prometheus.wait_for('socialwatch_activity_events_total{platform="instagram",action="comment"}')
        assert float(activity["value"][1]) >= 1
        flags = prometheus.wait_for('sum by (category) (socialwatch_flags_total)')
        assert {f["metric"]["category"] for f in flags} >= {"bullying"}
        [up] = prometheus.query(f'up{{instance="{target}"}}')
        assert up["value"][1] == "1"
