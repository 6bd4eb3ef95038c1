"""Proxy throughput and latency: mitmdump with the socialwatch addon against the same mitmdump without it.

    .venv/bin/python bench/proxy_throughput.py [--rounds 10] [--seconds 2] [--connections 4]
                                               [--storage embedded|server] [--writer thread|process]

Two workloads:

- platform: the real-shaped platform requests of tests/fixtures/platform_requests.toml
  (X, Instagram, TikTok, YouTube, Facebook, Reddit, Discord, Snapchat, Pinterest,
  LinkedIn: JSON, form and protobuf bodies, most with words that get flagged) plus a
  harmless comment and a feed view, in turn, over keep-alive HTTPS connections (one per
  host) from a district device (the addon decrypts, recognizes, classifies and stores);
- passthrough: new TLS connections to a site that is not social media (the addon
  decides at the ClientHello and passes the connection through undecrypted).

Each workload runs `--connections` clients at once, so that the proxy, not the
client, sets the pace (with a writer process on the clients' CPU, its bursts of work
delay the clients now and then; with two clients the proxy then idles, four keep it
busy). The machine is small and shared, so: both proxies run side
by side for the whole run and are measured in turn, `--seconds` at a time, in
`--rounds` rounds whose order alternates; a round's ratio compares two measurements
seconds apart, so slow changes in the machine's load cancel out. With two or more
CPUs the proxies get the last one and this process (clients and stand-in server, and
with `--writer process` the writer process) the others. Reported: medians over rounds
and the spread of the per-round ratios, latency p50/p99 over all requests, and the
proxy's CPU time per request (all its threads and its writer process: the addon's
reading, classifying and storing included), which contention disturbs less than rates.

The stand-in upstream server and certificates are the test suite's
(tests/support), so the public internet is never touched. Storage is the
embedded chDB engine in a temporary directory (`make run`'s default), or with
`--storage server` a ClickHouse server on the clients' CPUs (the production
appliance's storage, docs/deploy.md), which takes the inserts out of the proxy's
process. `--writer process` (storage.writer, the appliance's setting) also takes
reading, classifying and writing out of it, into a writer process pinned
(storage.writer_cpus) to the clients' CPUs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import os
import pathlib
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.parse

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from socialwatch.proxy_addons.catalog import Catalog  # noqa: E402
from support.clickhouse_server import ClickHouseProcess  # noqa: E402
from support.processes import free_port, stop, wait_for_port  # noqa: E402
from support.tls_certs import make_upstream_certs  # noqa: E402
from support.upstream import UpstreamServer  # noqa: E402

ADDON = REPO / "proxy_addons" / "socialwatch_addon.py"
REDIRECT = REPO / "tests" / "support" / "upstream_redirect.py"
FIXTURES = REPO / "tests" / "fixtures" / "platform_requests.toml"
MITMDUMP = pathlib.Path(sys.executable).parent / "mitmdump"
DEVICE = "127.0.0.1"
OTHER_SITE = "www.example.org"
SETTLE_SECONDS = 1.3
"""Wait after each measurement before reading the proxy's CPU time: longer than the
writer's flush interval (1 s), so the addon's storage work is counted in its own
measurement and does not spill into the next one."""
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass(frozen=True)
class PlatformRequest:
    method: str
    host: str
    path: str
    """Path and query string."""
    content_type: str
    body: bytes


def platform_requests() -> list[PlatformRequest]:
    """The fixtures whose hosts are in the platform catalog (the forum ones need proxy.forum_hosts
    or plain HTTP), a harmless comment and a feed view."""
    catalog = Catalog.load()
    requests = [
        PlatformRequest("POST", "www.instagram.com", "/api/v1/web/comments/3141592653/add/",
                        "application/x-www-form-urlencoded", urllib.parse.urlencode({
                            "comment_text": "that was such a good game yesterday, see you at practice tomorrow!! \U0001f3c0",
                            "replied_to_comment_id": "",
                        }).encode()),
        PlatformRequest("GET", "www.instagram.com", "/api/v1/feed/timeline/?reason=cold_start_fetch", "", b""),
    ]
    for fixture in tomllib.loads(FIXTURES.read_text())["request"]:
        url = urllib.parse.urlsplit(fixture["url"])
        if url.scheme == "https" and catalog.platform_for(url.hostname):
            path = url.path + (f"?{url.query}" if url.query else "")
            requests.append(PlatformRequest(fixture["method"], url.hostname, path, fixture["content_type"],
                                            fixture["body"].encode()))
    return requests


@dataclasses.dataclass
class Proxy:
    port: int
    process: subprocess.Popen

    def cpu_seconds(self) -> tuple[float, float]:
        """User and system CPU time of (the main thread, which runs the event loop and the addon's hooks;
        all threads and the writer process: the addon's writer and the storage engine's too)."""
        pid = self.process.pid
        children = [child for task in pathlib.Path(f"/proc/{pid}/task").iterdir()
                    for child in (task / "children").read_text().split()]
        return _cpu_seconds(f"/proc/{pid}/task/{pid}/stat"), \
            _cpu_seconds(f"/proc/{pid}/stat") + sum(_cpu_seconds(f"/proc/{child}/stat") for child in children)


def _cpu_seconds(stat_file: str) -> float:
    fields = pathlib.Path(stat_file).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@contextlib.contextmanager
def mitmdump(workdir: pathlib.Path, upstream_port: int, ca_pem: pathlib.Path, with_addon: bool,
             cpus: set[int] | None, storage_url: str, writer: str = "thread", writer_cpus: set[int] | None = None):
    port = free_port()
    args = [str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", str(port), "-q",
            "--set", f"confdir={workdir / 'mitmproxy'}", "--set", f"ssl_verify_upstream_trusted_ca={ca_pem}",
            "-s", str(REDIRECT), "--set", f"upstream_redirect=127.0.0.1:{upstream_port}"]
    if with_addon:
        args += ["-s", str(ADDON), "--set", f"socialwatch_storage_url={storage_url}",
                 "--set", "socialwatch_metrics_port=0", "--set", "socialwatch_district_subnets=127.0.0.0/8",
                 "--set", f"socialwatch_writer={writer}"]
        if writer_cpus:
            config = workdir / "writer.toml"
            config.write_text(f"[storage]\nwriter_cpus = {sorted(writer_cpus)}\n")
            args += ["--set", f"socialwatch_config={config}"]
    log = workdir / f"mitmdump-{with_addon}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    if cpus:
        os.sched_setaffinity(process.pid, cpus)  # before it starts its threads, which inherit it
    try:
        wait_for_port(port, process, log)
        time.sleep(1.0 if with_addon else 0.3)  # let the addon open storage and migrate
        yield Proxy(port, process)
    finally:
        stop(process)


def platform_client(proxy_port: int, context: ssl.SSLContext, requests: list[PlatformRequest], start: int,
                    end: float, latencies: list[float]) -> None:
    """Keep-alive requests in turn, from `start` in the mix, until `end`; one connection per host."""
    connections: dict[str, http.client.HTTPSConnection] = {}
    i = start
    while (begun := time.perf_counter()) < end:
        request = requests[i % len(requests)]
        i += 1
        conn = connections.get(request.host)
        if conn is None:
            conn = connections[request.host] = http.client.HTTPSConnection(
                "127.0.0.1", proxy_port, context=context, timeout=10, source_address=(DEVICE, 0))
            conn.set_tunnel(request.host, 443)
        headers = {"content-type": request.content_type} if request.content_type else {}
        conn.request(request.method, request.path, body=request.body or None, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (request, response.status)
        latencies.append((time.perf_counter() - begun) * 1000)
    for conn in connections.values():
        conn.close()


def passthrough_client(proxy_port: int, context: ssl.SSLContext, requests: list[PlatformRequest], start: int,
                       end: float, latencies: list[float]) -> None:
    """New tunnel + TLS handshake + one GET per connection until `end`."""
    while (begun := time.perf_counter()) < end:
        conn = http.client.HTTPSConnection("127.0.0.1", proxy_port, context=context, timeout=10,
                                           source_address=(DEVICE, 0))
        conn.set_tunnel(OTHER_SITE, 443)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
        latencies.append((time.perf_counter() - begun) * 1000)


@dataclasses.dataclass
class Measurement:
    rate: float
    """Requests (or connections) per second."""
    latencies: list[float]
    """Milliseconds, one per request."""
    loop_cpu_per_request: float
    """The proxy's main thread (event loop and hooks) CPU time per request, microseconds."""
    cpu_per_request: float
    """The proxy's CPU time per request, all threads, microseconds."""


def measure(client, proxy: Proxy, context: ssl.SSLContext, requests: list[PlatformRequest],
            connections: int, seconds: float) -> Measurement:
    """`connections` clients at once for `seconds`."""
    per_client: list[list[float]] = [[] for _ in range(connections)]
    cpu_before = proxy.cpu_seconds()
    end = time.perf_counter() + seconds
    threads = [threading.Thread(target=client, args=(proxy.port, context, requests, n * len(requests) // connections,
                                                     end, per_client[n])) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(SETTLE_SECONDS)
    latencies = [latency for client_latencies in per_client for latency in client_latencies]
    loop_cpu, cpu = (end - begin for end, begin in zip(proxy.cpu_seconds(), cpu_before))
    return Measurement(len(latencies) / seconds, latencies, loop_cpu / len(latencies) * 1e6,
                       cpu / len(latencies) * 1e6)


def cpu_split() -> tuple[set[int] | None, set[int] | None]:
    """(this process's CPUs, the proxies' CPU): the last CPU for the proxies, when there are two or more."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return set(cpus[:-1]), {cpus[-1]}


def report(name: str, unit: str, results: dict[bool, list[Measurement]]) -> None:
    for with_addon in (False, True):
        rounds = results[with_addon]
        latencies = sorted(latency for m in rounds for latency in m.latencies)
        p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
        label = "with socialwatch" if with_addon else "bare mitmdump   "
        print(f"{name:11} {label}: {statistics.median(m.rate for m in rounds):7.1f} {unit}  "
              f"latency p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
              f"proxy CPU {statistics.median(m.cpu_per_request for m in rounds):5.0f} us/request, "
              f"{statistics.median(m.loop_cpu_per_request for m in rounds):5.0f} in its event loop  "
              f"({len(latencies)} requests)")
    ratios = sorted(a.rate / b.rate for a, b in zip(results[True], results[False]))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    extra_cpu = statistics.median(a.cpu_per_request - b.cpu_per_request for a, b in zip(results[True], results[False]))
    extra_loop_cpu = statistics.median(a.loop_cpu_per_request - b.loop_cpu_per_request
                                       for a, b in zip(results[True], results[False]))
    print(f"{name:11} ratio with/without: median {statistics.median(ratios):.2f}  "
          f"quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}  range {ratios[0]:.2f}-{ratios[-1]:.2f}  "
          f"addon CPU {extra_cpu:+.0f} us/request, {extra_loop_cpu:+.0f} in the event loop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=4, help="clients at once")
    parser.add_argument("--storage", choices=("embedded", "server"), default="embedded",
                        help="the addon's storage: chDB in the proxy's process, or a ClickHouse server")
    parser.add_argument("--writer", choices=("thread", "process"), default="thread",
                        help="storage.writer: classify and write in the proxy's process, or in a writer process "
                        "on the clients' CPUs (needs --storage server)")
    args = parser.parse_args()
    if args.writer == "process" and args.storage != "server":
        parser.error("--writer process needs --storage server")
    own_cpus, proxy_cpus = cpu_split()
    if own_cpus:
        os.sched_setaffinity(0, own_cpus)
    requests = platform_requests()
    workloads = (("platform", "requests/s", platform_client), ("passthrough", "connections/s", passthrough_client))
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workdir = pathlib.Path(tmp)
        certs = make_upstream_certs(workdir / "upstream", sorted({r.host for r in requests} | {OTHER_SITE}))
        upstream = stack.enter_context(UpstreamServer(certs))
        storage_url = f"chdb:{workdir / 'chdb'}"
        if args.storage == "server":  # started from this process: on its CPUs, not the proxies'
            server = ClickHouseProcess(workdir / "clickhouse")
            storage_url = server.start().url_for("bench_proxy")
            stack.callback(server.stop)
        proxies = {with_addon: stack.enter_context(mitmdump(workdir, upstream.port, certs.ca_pem, with_addon,
                                                            proxy_cpus, storage_url, args.writer, own_cpus))
                   for with_addon in (False, True)}
        context = ssl.create_default_context(cafile=str(workdir / "mitmproxy" / "mitmproxy-ca-cert.pem"))
        context.load_verify_locations(cafile=str(certs.ca_pem))
        results = {(name, with_addon): [] for name, _, _ in workloads for with_addon in (False, True)}
        for with_addon in (False, True):  # warm-up: connections, certificates, caches
            for _, _, client in workloads:
                measure(client, proxies[with_addon], context, requests, args.connections, 0.5)
        for round_number in range(args.rounds):
            for name, _, client in workloads:
                for with_addon in (False, True) if round_number % 2 == 0 else (True, False):
                    results[(name, with_addon)].append(
                        measure(client, proxies[with_addon], context, requests, args.connections, args.seconds))
    print(f"{args.rounds} rounds x {args.seconds:g} s per workload and proxy, alternating; {args.connections} "
          f"clients at once; {len(requests)} platform request shapes; proxies on CPUs {proxy_cpus or 'any'}, "
          f"clients on {own_cpus or 'any'}; storage: {args.storage}; writer: {args.writer}"
          f"{f' on CPUs {own_cpus}' if args.writer == 'process' and own_cpus else ''}; medians over rounds")
    for name, unit, _ in workloads:
        report(name, unit, {with_addon: results[(name, with_addon)] for with_addon in (False, True)})


if __name__ == "__main__":
    main()
