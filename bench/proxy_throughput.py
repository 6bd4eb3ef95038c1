"""Proxy throughput and latency: mitmdump with the socialwatch addon against the same mitmdump without it.

    .venv/bin/python bench/proxy_throughput.py [--seconds 4] [--rounds 3]

Two workloads, in interleaved rounds (this machine is noisy; medians are reported):

- platform: HTTPS keep-alive POSTs of realistic comment bodies to www.instagram.com
  from a district device (the addon decrypts, recognizes, classifies and stores);
- passthrough: new TLS connections to a site that is not social media (the addon
  decides at the ClientHello and passes the connection through undecrypted).

The stand-in upstream server and certificates are the test suite's
(tests/support), so the public internet is never touched. Storage is the
embedded chDB engine in a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import pathlib
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.processes import free_port, stop, wait_for_port  # noqa: E402
from support.tls_certs import make_upstream_certs  # noqa: E402
from support.upstream import UpstreamServer  # noqa: E402

ADDON = REPO / "proxy_addons" / "socialwatch_addon.py"
REDIRECT = REPO / "tests" / "support" / "upstream_redirect.py"
MITMDUMP = pathlib.Path(sys.executable).parent / "mitmdump"
DEVICE = "127.0.0.1"
COMMENT = urllib.parse.urlencode({
    "comment_text": "that was such a good game yesterday, see you at practice tomorrow!! \U0001f3c0",
    "replied_to_comment_id": "",
}).encode()


@contextlib.contextmanager
def mitmdump(workdir: pathlib.Path, upstream_port: int, ca_pem: pathlib.Path, with_addon: bool):
    port = free_port()
    args = [str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", str(port), "-q",
            "--set", f"confdir={workdir / 'mitmproxy'}", "--set", f"ssl_verify_upstream_trusted_ca={ca_pem}",
            "-s", str(REDIRECT), "--set", f"upstream_redirect=127.0.0.1:{upstream_port}"]
    if with_addon:
        args += ["-s", str(ADDON), "--set", f"socialwatch_storage_url=chdb:{workdir / 'chdb'}",
                 "--set", "socialwatch_metrics_port=0", "--set", "socialwatch_district_subnets=127.0.0.0/8"]
    log = workdir / f"mitmdump-{with_addon}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        time.sleep(1.0 if with_addon else 0.3)  # let the addon open storage and migrate
        yield port
    finally:
        stop(process)


def platform_round(proxy_port: int, context: ssl.SSLContext, seconds: float) -> tuple[float, list[float]]:
    """Keep-alive POSTs for `seconds`: (requests/s, latencies in ms)."""
    conn = http.client.HTTPSConnection("127.0.0.1", proxy_port, context=context, timeout=10,
                                       source_address=(DEVICE, 0))
    conn.set_tunnel("www.instagram.com", 443)
    latencies = []
    end = time.perf_counter() + seconds
    while (start := time.perf_counter()) < end:
        conn.request("POST", "/api/v1/web/comments/3141592653/add/", body=COMMENT,
                     headers={"content-type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        latencies.append((time.perf_counter() - start) * 1000)
    conn.close()
    return len(latencies) / seconds, latencies


def passthrough_round(proxy_port: int, context: ssl.SSLContext, seconds: float) -> tuple[float, list[float]]:
    """New tunnel + TLS handshake + one GET per connection for `seconds`: (connections/s, latencies in ms)."""
    latencies = []
    end = time.perf_counter() + seconds
    while (start := time.perf_counter()) < end:
        conn = http.client.HTTPSConnection("127.0.0.1", proxy_port, context=context, timeout=10,
                                           source_address=(DEVICE, 0))
        conn.set_tunnel("www.example.org", 443)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
        latencies.append((time.perf_counter() - start) * 1000)
    return len(latencies) / seconds, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        certs = make_upstream_certs(workdir / "upstream", ["www.instagram.com", "www.example.org"])
        results: dict[tuple[str, bool], list[tuple[float, list[float]]]] = {}
        with UpstreamServer(certs) as upstream:
            for round_number in range(args.rounds):
                for with_addon in (False, True) if round_number % 2 == 0 else (True, False):
                    with mitmdump(workdir, upstream.port, certs.ca_pem, with_addon) as port:
                        context = ssl.create_default_context(cafile=str(workdir / "mitmproxy" / "mitmproxy-ca-cert.pem"))
                        context.load_verify_locations(cafile=str(certs.ca_pem))
                        for name, run in (("platform", platform_round), ("passthrough", passthrough_round)):
                            results.setdefault((name, with_addon), []).append(run(port, context, args.seconds))
    print(f"rounds: {args.rounds} x {args.seconds:.0f} s per workload, interleaved; medians")
    for name, unit in (("platform", "requests/s"), ("passthrough", "connections/s")):
        summary = {}
        for with_addon in (False, True):
            rounds = results[(name, with_addon)]
            rate = statistics.median(r for r, _ in rounds)
            latencies = sorted(l for _, ls in rounds for l in ls)
            p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
            summary[with_addon] = rate
            label = "with socialwatch" if with_addon else "bare mitmdump  "
            print(f"{name:11} {label}: {rate:8.1f} {unit}  latency p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        print(f"{name:11} ratio with/without: {summary[True] / summary[False]:.2f}")


if __name__ == "__main__":
    main()
