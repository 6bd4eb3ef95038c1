"""Every dedicated recognizer through a real mitmdump: the right platform, action, target and text.

The requests are the fixtures in tests/fixtures/platform_requests.toml, sent by a
real HTTPS client from a district device; the stand-in server plays every
platform. Their text is of the kind that is flagged, so that the stored flag
shows exactly the text the proxy read (unflagged text is never stored).
"""

from __future__ import annotations

import pathlib
import tomllib
import urllib.parse
import uuid

import pytest
import websockets.sync.client

from socialwatch.storage import open_storage
from support.proxy import running_mitmdump
from support.stored import stored_rows
from support.tls_certs import make_upstream_certs
from support.upstream import UpstreamServer

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "platform_requests.toml"
PLATFORM_REQUESTS = tomllib.loads(FIXTURES.read_text())["request"]
DEVICE = "127.30.0.5"
TWITCH_CHAT = "irc-ws.chat.twitch.tv"
FORUM_HOST = "forum.example-school.org"  # a Discourse the district lists in proxy.forum_hosts


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    hosts = sorted({urllib.parse.urlsplit(r["url"]).hostname for r in PLATFORM_REQUESTS} | {TWITCH_CHAT})
    certs = make_upstream_certs(tmp_path_factory.mktemp("upstream"), hosts)
    with UpstreamServer(certs) as server:
        yield server, certs


@pytest.fixture(scope="module")
def plain_http_upstream():
    with UpstreamServer(None) as server:
        yield server


@pytest.fixture(scope="module")
def store(clickhouse_server):
    store = open_storage(clickhouse_server.url_for(f"recognizers_{uuid.uuid4().hex[:8]}"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream, plain_http_upstream, store, clickhouse_server):
    server, certs = upstream
    workdir = tmp_path_factory.mktemp("proxy")
    config = workdir / "socialwatch.toml"
    config.write_text(f'[proxy]\nforum_hosts = ["{FORUM_HOST}"]\n[identity]\npseudonym_key_file = "{workdir / "key"}"\n')
    with running_mitmdump(
        workdir, storage_url=clickhouse_server.url_for(store.database),
        upstream_port=server.port, upstream_http_port=plain_http_upstream.port, certs=certs,
        district_subnets=["127.30.0.0/16"], options={"socialwatch_config": str(config)},
    ) as proxy:
        yield proxy


@pytest.mark.parametrize("request_", PLATFORM_REQUESTS, ids=[r["name"] for r in PLATFORM_REQUESTS])
def test_a_real_shaped_platform_request_is_recognized(proxy, store, request_):
    expect = request_["expect"]
    url = urllib.parse.urlsplit(request_["url"])
    with proxy.client(DEVICE) as client:
        response = client.request(request_["method"], request_["url"], content=request_["body"].encode(),
                                  headers={"content-type": request_["content_type"]})
    assert response.status == 200
    [event] = stored_rows(store, "SELECT * FROM {database}.events WHERE host = {h:String} AND path = {p:String}"
                              " AND action = {a:String}", {"h": url.hostname, "p": url.path, "a": expect["action"]})
    assert (event["platform"], event["target"], event["source"]) == (expect["platform"], expect["target"], "proxy")
    assert "?" not in event["path"]
    assert event["flagged"] == (1 if expect["text"] else 0), "the fixtures' texts are all of the flagged kind"
    if expect["text"]:
        # flags land just after their event (same batch, second insert)
        flags = stored_rows(store, "SELECT text FROM {database}.flags WHERE event_id = {id:UUID}", {"id": event["event_id"]})
        assert {f["text"] for f in flags} == {expect["text"]}


def test_a_websocket_chat_message_is_recorded_with_its_channel_and_text(proxy, store, upstream):
    server, certs = upstream
    context = proxy.client(DEVICE).context
    sock = proxy.client(DEVICE).tunnel(TWITCH_CHAT)
    with websockets.sync.client.connect(f"wss://{TWITCH_CHAT}/", sock=sock, ssl=context,
                                        server_hostname=TWITCH_CHAT, open_timeout=10) as chat:
        chat.send("PASS oauth:not-a-real-token")
        assert chat.recv(timeout=10) == "ok"
        chat.send("PRIVMSG #someclass :nobody likes you\r\n")
        assert chat.recv(timeout=10) == "ok"
    assert "PRIVMSG #someclass :nobody likes you\r\n" in server.websocket_messages, "passed on unchanged"
    [event] = stored_rows(store, "SELECT * FROM {database}.events WHERE platform = 'twitch' AND flagged = 1", {})
    assert (event["action"], event["target"], event["protocol"], event["host"]) == (
        "message", "someclass", "wss", TWITCH_CHAT)
    [flag] = stored_rows(store, "SELECT text FROM {database}.flags WHERE event_id = {id:UUID}", {"id": event["event_id"]})
    assert flag["text"] == "nobody likes you"
    passwords = store.query("SELECT count() AS n FROM {database}.flags WHERE text LIKE '%oauth%'")
    assert passwords == [{"n": 0}]
