"""Transparent mode for real: a device, an appliance and an "internet" in three network namespaces.

The appliance routes between the device and the internet, loads the ruleset of
`socialwatch deploy nftables` with `nft -f`, and runs `socialwatch run -- --mode
transparent` on the embedded store, under the kernel-enforced sandbox of
deploy/systemd/socialwatch-proxy.service (no capabilities, its system-call
filter and address families; support/systemd_sandbox.py). Ordinary clients on the device connect by
address with a server name, as after DNS; nothing is configured on the device
except the proxy's CA. Needs root (namespaces, nftables), which the test
environment and CI have.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
from support.appliance_network import (
    DISTRICT_SUBNET,
    DISTRICT_SUBNET6,
    ApplianceNetwork,
    appliance_network,
)
from support.processes import stop
from support.tls_certs import UPSTREAM_CA_NAME, make_upstream_certs

BIN = pathlib.Path(sys.executable).parent
SUPPORT = pathlib.Path(__file__).resolve().parents[1] / "support"
UNIT = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "socialwatch-proxy.service"
SANDBOX = [sys.executable, str(SUPPORT / "systemd_sandbox.py"), str(UNIT), "--"]
"""The proxy runs under its unit's seccomp filters, capability bounding set and no-new-privileges."""
PROXY_PORT = 8080
COMMENT = "/api/v1/web/comments/77/add/"
GUEST_COMMENT = "/api/v1/web/comments/78/add/"
HTTP_COMMENT = "/api/v1/web/comments/79/add/"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and nftables")


def wait_for_log(log: pathlib.Path, text: str, process: subprocess.Popen, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"waiting for {text!r}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


@contextlib.contextmanager
def started(command: list[str], log: pathlib.Path, cwd: pathlib.Path):
    """A process logging to `log`, stopped (SIGTERM, then SIGKILL) on exit, also when the test fails."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop(process, timeout=30)


def client(net: ApplianceNetwork, *args: str) -> dict:
    """namespace_client.py on the device; its one JSON line."""
    result = net.run(net.device, sys.executable, str(SUPPORT / "namespace_client.py"), *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stored(workdir: pathlib.Path, sql: str) -> list[dict]:
    """Read the appliance's chDB store from a separate process, after the proxy stopped."""
    code = ("import json, sys; from socialwatch.storage import open_storage; "
            "s = open_storage(sys.argv[1]); print(json.dumps(s.query(sys.argv[2])))")
    out = subprocess.run([sys.executable, "-c", code, "chdb:var/socialwatch.chdb", sql], cwd=workdir,
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def appliance(tmp_path_factory):
    """Everything the device did through the appliance, the proxy's log and what it stored."""
    work = tmp_path_factory.mktemp("appliance")
    config = work / "socialwatch.toml"
    config.write_text(
        "[proxy]\n"
        f'listen_host = ""\nlisten_port = {PROXY_PORT}\n'
        f'district_subnets = ["{DISTRICT_SUBNET}", "{DISTRICT_SUBNET6}"]\n'
        f'confdir = "{work / "mitmproxy"}"\n'
        '[storage]\nurl = "chdb:var/socialwatch.chdb"\nflush_interval_seconds = 0.2\n'
        "[metrics]\nlisten_port = 0\n"
    )
    certs = make_upstream_certs(work / "upstream", ["www.instagram.com", "example.org"])
    ruleset = work / "socialwatch.nft"
    ruleset.write_text(subprocess.run([str(BIN / "socialwatch"), "deploy", "nftables", "--config", str(config)],
                                      capture_output=True, text=True, check=True).stdout)
    seen_upstream = work / "upstream.jsonl"
    seen_upstream.touch()
    results: dict[str, dict] = {}
    servers_log, proxy_log = work / "servers.log", work / "run.log"
    with appliance_network() as net, contextlib.ExitStack() as running:
        loaded = net.run(net.appliance, "nft", "-f", str(ruleset))
        assert loaded.returncode == 0, loaded.stderr
        servers = running.enter_context(started(
            net.command(net.internet, sys.executable, str(SUPPORT / "namespace_servers.py"),
                        str(certs.ca_pem.parent), str(seen_upstream), net.platform_ip, net.platform_ip6),
            servers_log, work))
        proxy = running.enter_context(started(
            net.command(net.appliance, *SANDBOX, str(BIN / "socialwatch"), "run", "--config", str(config), "--",
                        "--mode", "transparent", "--set", f"ssl_verify_upstream_trusted_ca={certs.ca_pem}"),
            proxy_log, work))
        wait_for_log(servers_log, "ready", servers)
        wait_for_log(proxy_log, "socialwatch: recording to", proxy)
        wait_for_log(proxy_log, "listening at", proxy)
        proxy_ca = str(work / "mitmproxy" / "mitmproxy-ca-cert.pem")
        upstream_ca = str(certs.ca_pem)
        comment = ["--data", "comment_text=i want to die"]
        results["platform"] = client(net, "https", net.platform_ip, "www.instagram.com", COMMENT,
                                     "--source", net.device_ip, "--trust", proxy_ca, *comment)
        results["platform6"] = client(net, "https", net.platform_ip6, "www.instagram.com", COMMENT,
                                      "--source", net.device_ip6, "--trust", proxy_ca, *comment)
        results["plain_http"] = client(net, "http", net.platform_ip, "www.instagram.com", HTTP_COMMENT,
                                       "--source", net.device_ip, "--data", "comment_text=kys")
        results["other_site"] = client(net, "https", net.other_ip, "example.org", "/page",
                                       "--source", net.device_ip, "--trust", upstream_ca)
        results["guest"] = client(net, "https", net.platform_ip, "www.instagram.com", GUEST_COMMENT,
                                  "--source", net.guest_ip, "--trust", upstream_ca, *comment)
        results["quic"] = client(net, "udp", net.platform_ip, "443", "--source", net.device_ip)
        results["quic6"] = client(net, "udp", net.platform_ip6, "443", "--source", net.device_ip6)
        results["guest_quic"] = client(net, "udp", net.platform_ip, "443", "--source", net.guest_ip)
    yield {
        "clients": results,
        "upstream": [json.loads(line) for line in seen_upstream.read_text().splitlines()],
        "log": proxy_log.read_text(errors="replace"),
        "events": stored(work, "SELECT device, platform, host, path, action, flagged FROM socialwatch.events "
                               "ORDER BY device, path"),
        "flags": stored(work, "SELECT device, category, text FROM socialwatch.flags ORDER BY device"),
    }


def test_platform_connection_is_decrypted_and_recorded(appliance):
    for name in ("platform", "platform6"):
        answer = appliance["clients"][name]
        assert answer.get("status") == 200, answer
        assert answer["issuer"] == "mitmproxy"  # the proxy's certificate, which the device trusts
    assert [e for e in appliance["events"] if e["path"] == COMMENT] == [
        {"device": "10.66.0.2", "platform": "instagram", "host": "www.instagram.com", "path": COMMENT,
         "action": "comment", "flagged": 1},
        {"device": "fd66::2", "platform": "instagram", "host": "www.instagram.com", "path": COMMENT,
         "action": "comment", "flagged": 1},
    ]
    assert [(f["device"], f["category"]) for f in appliance["flags"] if f["text"] == "i want to die"] == [
        ("10.66.0.2", "self_harm"), ("fd66::2", "self_harm")]
    # The request still reached the platform, from the appliance, with its body.
    comments = [r for r in appliance["upstream"] if r["kind"] == "http" and r["path"] == COMMENT]
    assert [(r["host"], r["bytes"]) for r in comments] == [("www.instagram.com", len("comment_text=i+want+to+die"))] * 2


def test_plain_http_to_a_platform_is_redirected_and_recorded(appliance):
    assert appliance["clients"]["plain_http"].get("status") == 200, appliance["clients"]["plain_http"]
    assert [(e["device"], e["action"], e["flagged"]) for e in appliance["events"] if e["path"] == HTTP_COMMENT] == [
        ("10.66.0.2", "comment", 1)]
    assert [r["host"] for r in appliance["upstream"] if r.get("path") == HTTP_COMMENT] == ["www.instagram.com"]
    assert [(f["device"], f["category"]) for f in appliance["flags"] if f["text"] == "kys"] == [
        ("10.66.0.2", "bullying")]


def test_other_site_passes_through_untouched(appliance):
    answer = appliance["clients"]["other_site"]
    assert answer.get("status") == 200, answer
    assert answer["issuer"] == UPSTREAM_CA_NAME  # the site's own certificate: not decrypted
    assert not [e for e in appliance["events"] if e["host"] == "example.org"]


def test_device_outside_the_district_subnets_is_not_redirected_or_recorded(appliance):
    answer = appliance["clients"]["guest"]
    assert answer.get("status") == 200, answer
    assert answer["issuer"] == UPSTREAM_CA_NAME
    assert not [e for e in appliance["events"] if e["device"] == "10.67.0.2"]
    assert [r["host"] for r in appliance["upstream"] if r.get("path") == GUEST_COMMENT] == ["www.instagram.com"]
    assert appliance["clients"]["guest_quic"] == {"result": "answered"}  # the UDP server answers when allowed


def test_quic_from_district_devices_is_rejected(appliance):
    assert appliance["clients"]["quic"] == {"result": "refused"}
    assert appliance["clients"]["quic6"] == {"result": "refused"}
    udp_clients = [r["client"] for r in appliance["upstream"] if r["kind"] == "udp"]
    assert udp_clients and all(c.endswith("10.67.0.2") for c in udp_clients), udp_clients


def test_proxy_ran_in_transparent_mode_without_errors(appliance):
    assert "Transparent Proxy listening at *:8080" in appliance["log"]
    assert "socialwatch cannot start" not in appliance["log"]
