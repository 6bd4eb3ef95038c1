"""Live capture: `socialwatch sensor --interface` on a veth pair, real clients in a namespace.

Needs root (network namespaces, raw sockets), which the test environment and CI have.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest
from clickhouse_driver import Client
from support.processes import free_port, stop
from support.sensor_network import veth_network

BIN = pathlib.Path(sys.executable).parent
CLIENTS = pathlib.Path(__file__).resolve().parents[1] / "support" / "sensor_clients.py"


@contextlib.contextmanager
def servers(ip: str):
    """What the device talks to: a DNS responder, a TCP 443 listener, a UDP 443 sink and an HTTP server."""
    class Dns(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            sock.sendto(data[:2] + b"\x81\x83" + data[4:], self.client_address)  # NXDOMAIN

    class Tls(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(2)
            with contextlib.suppress(OSError):
                self.request.recv(65536)  # the ClientHello; then close: no certificate here

    class Http(socketserver.StreamRequestHandler):
        def handle(self):
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            self.wfile.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    socketserver.TCPServer.allow_reuse_address = True
    running = [socketserver.ThreadingUDPServer((ip, 53), Dns), socketserver.ThreadingTCPServer((ip, 443), Tls),
               socketserver.ThreadingTCPServer((ip, 80), Http)]
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((ip, 443))  # QUIC Initials arrive; no answer (no QUIC server), the client times out
    for server in running:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        for server in running:
            server.shutdown()
            server.server_close()
        sink.close()


def wait_for_lines(path: pathlib.Path, count: int, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def wait_for_text(path: pathlib.Path, text: str, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"sensor did not start:\n{path.read_text()}")
        time.sleep(0.1)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and raw sockets")
def test_live_capture_on_a_veth_pair_prints_stores_and_counts(tmp_path, clickhouse_server):
    database = f"sensor_live_{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    with veth_network() as net, servers(net.server_ip):
        out, err = tmp_path / "sensor.out", tmp_path / "sensor.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            sensor = subprocess.Popen(
                [str(BIN / "socialwatch"), "sensor", "--interface", net.interface, "--print",
                 "--storage-url", clickhouse_server.url_for(database), "--metrics-port", str(metrics_port),
                 "--district-subnet", net.subnet],
                stdout=stdout, stderr=stderr, cwd=tmp_path,
            )
        try:
            wait_for_text(err, "capturing on", sensor)
            result = net.run(sys.executable, str(CLIENTS), net.server_ip)
            assert result.returncode == 0 and "done" in result.stdout, result.stderr
            lines = wait_for_lines(out, 4)
            seen = {(l["proto"], l["name"], l["platform"]) for l in lines}
            assert seen >= {("dns", "www.tiktok.com", "tiktok"), ("tls", "www.instagram.com", "instagram"),
                            ("quic", "www.snapchat.com", "snapchat"), ("http", "www.youtube.com", "youtube")}
            assert {(l["client"], l["server"]) for l in lines} == {(net.client_ip, net.server_ip)}
            metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
            for proto in ("dns", "tls", "quic", "http"):
                assert f'socialwatch_sensor_observations_total{{proto="{proto}"}}' in metrics
            assert "socialwatch_sensor_capture_drops_total 0.0" in metrics, "\n".join(l for l in metrics.splitlines() if "sensor" in l and not l.startswith("#"))
        finally:
            stop(sensor, timeout=20)
        assert sensor.returncode == 0, err.read_text()
    assert "socialwatch sensor:" in err.read_text() and "events:" in err.read_text()
    client = Client(host=clickhouse_server.host, port=clickhouse_server.port)
    try:
        rows = client.execute(f"SELECT platform, device, source FROM {database}.events FINAL ORDER BY platform")
    finally:
        client.disconnect()
    assert rows == [(p, net.client_ip, "sensor") for p in ("instagram", "snapchat", "tiktok", "youtube")]
