"""WireGuard mode: `socialwatch run -- --mode wireguard@...` and the exported client profile.

The real proxy (socialwatch run, mitmproxy 12's WireGuard server from mitmproxy_rs) runs on
loopback. The profile `socialwatch deploy wireguard-client` prints is checked against the key
file mitmproxy wrote (the server's public key computed independently, with the cryptography
package) and against the profile mitmproxy itself logs at start-up; then a WireGuard client in
Python (support/wireguard_client.py: the protocol's handshake and transport, a small TCP inside)
imports that profile, completes the handshake with the server, and posts a comment to Instagram
over TLS through the tunnel, as a take-home device would: the comment must be stored as an event
of the device 10.0.0.1, flagged. Upstream connections go to a local stand-in server.
"""

from __future__ import annotations

import json
import pathlib
import socket
import ssl
import subprocess
import sys
import time
import uuid

import pytest
from socialwatch.storage import open_storage
from support.processes import free_port, stop, wait_for_port
from support.stored import stored_rows
from support.tls_certs import make_upstream_certs
from support.upstream import UpstreamServer
from support.wireguard_client import (
    TcpConnection,
    WireGuardClient,
    parse_conf,
    public_key,
    random_key,
)

BIN = pathlib.Path(sys.executable).parent
REDIRECT = pathlib.Path(__file__).resolve().parents[1] / "support" / "upstream_redirect.py"
CLIENT_ADDRESS = "10.0.0.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    certs = make_upstream_certs(tmp_path_factory.mktemp("upstream"), ["www.instagram.com"])
    with UpstreamServer(certs) as server:
        yield server, certs


@pytest.fixture(scope="module")
def appliance(tmp_path_factory, upstream, clickhouse_server):
    """socialwatch run in WireGuard mode only, on a loopback UDP port, with a configuration file."""
    server, certs = upstream
    workdir = tmp_path_factory.mktemp("wireguard")
    wg_port, metrics_port = free_udp_port(), free_port()
    url = clickhouse_server.url_for(f"wg_{uuid.uuid4().hex[:8]}")
    config = workdir / "socialwatch.toml"
    config.write_text(
        f'[proxy]\nlisten_host = "127.0.0.1"\nconfdir = "{workdir / "mitmproxy"}"\n'
        f'district_subnets = ["{CLIENT_ADDRESS}/32"]\n'
        f'[storage]\nurl = "{url}"\nflush_interval_seconds = 0.2\n'
        f'[metrics]\nlisten_port = {metrics_port}\n')
    log = workdir / "proxy.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "socialwatch"), "run", "--config", str(config), "--",
             "--mode", f"wireguard@127.0.0.1:{wg_port}", "-s", str(REDIRECT),
             "--set", f"upstream_redirect=127.0.0.1:{server.port}",
             "--set", f"ssl_verify_upstream_trusted_ca={certs.ca_pem}"],
            cwd=workdir, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_port(metrics_port, process, log, timeout=60)
        deadline = time.monotonic() + 30
        while "WireGuard server listening" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        yield {"config": config, "port": wg_port, "log": log, "confdir": workdir / "mitmproxy", "url": url,
               "workdir": workdir}
    finally:
        stop(process)


def export(config: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "socialwatch"), "deploy", "wireguard-client", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_proxy_writes_its_keys_and_the_export_matches_them(appliance):
    keys = json.loads((appliance["confdir"] / "wireguard.conf").read_text())
    result = export(appliance["config"], "--endpoint", f"127.0.0.1:{appliance['port']}")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # 10.0.0.1 is a district address here: no warning
    profile = parse_conf(result.stdout)
    assert profile == {
        "PrivateKey": keys["client_key"], "Address": f"{CLIENT_ADDRESS}/32", "DNS": "10.0.0.53",
        "PublicKey": public_key(keys["server_key"]), "AllowedIPs": "0.0.0.0/0",
        "Endpoint": f"127.0.0.1:{appliance['port']}",
    }
    # mitmproxy logs its own client configuration at start-up: the export says the same.
    logged = parse_conf(appliance["log"].read_text())
    assert {k: logged[k] for k in ("PrivateKey", "Address", "PublicKey", "Endpoint")} == \
        {k: profile[k] for k in ("PrivateKey", "Address", "PublicKey", "Endpoint")}


def test_a_device_with_the_profile_is_monitored_through_the_tunnel(appliance):
    profile = parse_conf(export(appliance["config"], "--endpoint", f"127.0.0.1:{appliance['port']}").stdout)
    host, _, port = profile["Endpoint"].rpartition(":")
    tunnel = WireGuardClient(profile["PrivateKey"], profile["PublicKey"], (host, int(port)))
    try:
        tunnel.handshake()  # fails unless the server holds the private half of PublicKey and accepts our key
        # Any address: mitmproxy's WireGuard mode is transparent; the stand-in answers for Instagram.
        tcp = TcpConnection(tunnel, CLIENT_ADDRESS, "127.0.0.1", 443)
        tcp.connect()
        context = ssl.create_default_context(cafile=str(appliance["confdir"] / "mitmproxy-ca-cert.pem"))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="www.instagram.com")

        def flush() -> None:
            if data := outgoing.read():
                tcp.send(data)

        def fill() -> None:
            data = tcp.receive()
            incoming.write(data) if data else incoming.write_eof()

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                fill()
        flush()
        path = f"/api/v1/web/comments/{uuid.uuid4().int % 10**12}/add/"
        body = b"comment_text=nobody+likes+you%2C+just+go+away+loser"
        tls.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: www.instagram.com\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        flush()
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            try:
                response += tls.read(65536)
            except ssl.SSLWantReadError:
                fill()
        tcp.close()
    finally:
        tunnel.close()
    # The control: a device with another key gets no answer (WireGuard ignores unknown peers).
    stranger = WireGuardClient(random_key(), profile["PublicKey"], (host, int(port)))
    try:
        with pytest.raises(TimeoutError):
            stranger.handshake(timeout=2)
    finally:
        stranger.close()
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert b'"status": "ok"' in response  # the stand-in's answer, through the proxy

    store = open_storage(appliance["url"])
    try:
        [event] = stored_rows(store, "SELECT device, platform, action, flagged FROM {database}.events"
                                     " WHERE path = {p:String}", {"p": path})
        flags = stored_rows(store, "SELECT category FROM {database}.flags WHERE device = {d:String}",
                            {"d": CLIENT_ADDRESS})
    finally:
        store.close()
    assert event == {"device": CLIENT_ADDRESS, "platform": "instagram", "action": "comment", "flagged": 1}
    assert "bullying" in {f["category"] for f in flags}


def test_the_export_warns_when_wireguard_clients_are_not_district_devices(tmp_path):
    conf = tmp_path / "wireguard.conf"
    conf.write_text(json.dumps({"server_key": "6HlrWHKbQhY2b7oWUtLcqRaRyQl+xB+TmqfTUB0F6Hs=",
                                "client_key": "8BqVFBB3hWSEU6sk+rEXT0jqxygxKCvJXhNqEmrW1nk="}))
    config = tmp_path / "socialwatch.toml"
    config.write_text('[proxy]\ndistrict_subnets = ["10.20.0.0/16"]\n')
    result = export(config, "--endpoint", "vpn.district.example:51820", "--conf", str(conf))
    assert result.returncode == 0
    assert "not in proxy.district_subnets" in result.stderr
    assert parse_conf(result.stdout)["PublicKey"] == public_key("6HlrWHKbQhY2b7oWUtLcqRaRyQl+xB+TmqfTUB0F6Hs=")
    for bad in ("vpn.district.example", "vpn:0", ":51820"):
        assert export(config, "--endpoint", bad, "--conf", str(conf)).returncode == 2
    missing = export(config, "--endpoint", "vpn:51820", "--conf", str(tmp_path / "none.conf"))
    assert missing.returncode == 2 and "start the proxy in WireGuard mode once" in missing.stderr
