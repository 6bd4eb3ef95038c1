"""A real mitmdump with the socialwatch addon, and HTTP clients that go through it."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json as json_module
import os
import pathlib
import socket
import ssl
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support.processes import free_port, stop, wait_for_port
from support.tls_certs import UpstreamCerts

REPO = pathlib.Path(__file__).resolve().parents[2]
ADDON = REPO / "proxy_addons" / "socialwatch_addon.py"
REDIRECT = pathlib.Path(__file__).with_name("upstream_redirect.py")
BIN = pathlib.Path(sys.executable).parent


@dataclasses.dataclass
class Proxy:
    port: int
    metrics_port: int
    confdir: pathlib.Path
    log: pathlib.Path
    process: subprocess.Popen | None = None
    """mitmdump's process."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> pathlib.Path:
        """mitmproxy's CA certificate: what district devices are given to trust."""
        return self.confdir / "mitmproxy-ca-cert.pem"

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def sample(self, name: str, **labels: str) -> float:
        """One sample of /metrics by name and labels; 0 when it is not there (a counter not yet counted)."""
        for family in text_string_to_metric_families(self.metrics()):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    def client(self, source_ip: str, trust: list[pathlib.Path] = (), trust_proxy: bool = True,
               login: tuple[str, str] | None = None) -> DeviceClient:
        """A device at `source_ip` that browses through the proxy, trusting its CA (unless not) and `trust`,
        signing in to the proxy with `login` (user, password) when given."""
        return DeviceClient(self, source_ip, trust, trust_proxy, login)


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class DeviceClient:
    """HTTPS through the proxy (CONNECT, then TLS) from one source address, as a district device would.

    The standard library's http.client is used because it binds the source
    address of the proxy connection; httpx and httpcore do not for proxied requests.
    """

    def __init__(self, proxy: Proxy, source_ip: str, trust: list[pathlib.Path] = (), trust_proxy: bool = True,
                 login: tuple[str, str] | None = None):
        self.proxy = proxy
        self.source_ip = source_ip
        self.tunnel_headers = {}
        if login is not None:
            token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
            self.tunnel_headers["Proxy-Authorization"] = f"Basic {token}"
        self.context = ssl.create_default_context(cafile=str(proxy.ca_pem) if trust_proxy else None)
        for pem in trust:
            self.context.load_verify_locations(cafile=str(pem))

    def get(self, url: str) -> Response:
        return self.request("GET", url)

    def post(self, url: str, *, data: dict | None = None, json: object = None, content: bytes = b"",
             headers: dict | None = None) -> Response:
        headers = dict(headers or {})
        if data is not None:
            content = urllib.parse.urlencode(data).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        elif json is not None:
            content = json_module.dumps(json).encode()
            headers["content-type"] = "application/json"
        return self.request("POST", url, content=content, headers=headers)

    def request(self, method: str, url: str, *, content: bytes | None = None, headers: dict | None = None) -> Response:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "http":  # plain HTTP: the absolute URL goes to the proxy
            conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, source_address=(self.source_ip, 0),
                                              timeout=10)
            target = url
        else:
            conn = self.connect(parts.hostname, parts.port or 443)
            target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        try:
            conn.request(method, target, body=content, headers=headers or {})
            response = conn.getresponse()
            return Response(response.status, response.read())
        finally:
            conn.close()

    def tunnel(self, host: str, port: int = 443) -> socket.socket:
        """A CONNECT tunnel through the proxy, as a plain socket (the caller speaks TLS over it)."""
        sock = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10,
                                        source_address=(self.source_ip, 0))
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"proxy closed the tunnel: {answer!r}")
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(f"proxy refused the tunnel: {answer!r}")
        return sock

    def connect(self, host: str, port: int = 443) -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection("127.0.0.1", self.proxy.port, source_address=(self.source_ip, 0),
                                           context=self.context, timeout=10)
        conn.set_tunnel(host, port, headers=self.tunnel_headers)
        return conn

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *exc) -> None:
        pass


@contextlib.contextmanager
def running_mitmdump(
    workdir: pathlib.Path,
    *,
    storage_url: str,
    upstream_port: int,
    certs: UpstreamCerts,
    upstream_http_port: int | None = None,
    district_subnets: list[str],
    options: dict[str, str] | None = None,
) -> Iterator[Proxy]:
    """mitmdump -s proxy_addons/socialwatch_addon.py, its upstream sent to the local stand-in server."""
    workdir.mkdir(parents=True, exist_ok=True)
    proxy = Proxy(port=free_port(), metrics_port=free_port(), confdir=workdir / "mitmproxy", log=workdir / "mitmdump.log")
    settings = {
        "confdir": str(proxy.confdir),
        "ssl_verify_upstream_trusted_ca": str(certs.ca_pem),
        "upstream_redirect": f"127.0.0.1:{upstream_port}",
        "upstream_redirect_http": f"127.0.0.1:{upstream_http_port}" if upstream_http_port else "",
        "socialwatch_storage_url": storage_url,
        "socialwatch_metrics_port": str(proxy.metrics_port),
        "flow_detail": "0",
        **(options or {}),
    }
    args = [str(BIN / "mitmdump"), "--listen-host", "127.0.0.1", "--listen-port", str(proxy.port),
            "-s", str(ADDON), "-s", str(REDIRECT)]
    for name, value in settings.items():
        args += ["--set", f"{name}={value}"]
    for subnet in district_subnets:
        args += ["--set", f"socialwatch_district_subnets={subnet}"]
    with proxy.log.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=dict(os.environ))
    proxy.process = process
    try:
        wait_for_port(proxy.port, process, proxy.log)
        wait_for_port(proxy.metrics_port, process, proxy.log)
        yield proxy
    finally:
        stop(process)
