"""Passive sensor throughput against scapy's own reading, on one large capture, in one run.

- sensor: ``capture.read_file`` (scapy's RawPcapReader, no dissection) + ``Sensor.packet``
  (early port filter, hand-written DNS/TLS/QUIC/HTTP parsing) over the whole file;
- scapy:  ``rdpcap`` (full dissection of every layer) over the first SCAPY_SAMPLE packets,
  extrapolated to packets/s (dissecting the whole file would take minutes). The baseline
  only dissects: it does not even look for names.

The capture (>= 1,000,000 packets) is built once and cached in the temp directory: frames
built with scapy from templates, mostly uninteresting (server-to-client TLS data,
client-to-server TLS application data, other TCP and UDP ports, ARP, IPv6), with about 1%
DNS queries, 0.5% TLS ClientHellos, 0.1% QUIC Initials (v1) and 0.2% HTTP requests.

Run: .venv/bin/python bench/sensor_throughput.py [--packets N] [--sample N]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import struct
import tempfile
import time

from prometheus_client import CollectorRegistry
from scapy.all import ARP, DNS, DNSQR, IP, TCP, UDP, Ether, IPv6, Raw, rdpcap
from socialwatch.dashboards.metrics import Metrics
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.sensor import Sensor
from socialwatch.proxy_addons.sensor.capture import read_file

SCAPY_SAMPLE = 20_000


def client_hello(name: str) -> bytes:
    import ssl
    # A real ClientHello: the standard library's TLS client writing into a memory BIO.
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def quic_initial(name: str, rng: random.Random) -> bytes:
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    connection = QuicConnection(configuration=QuicConfiguration(is_client=True, server_name=name))
    connection.connect(("192.0.2.1", 443), now=0.0)
    return connection.datagrams_to_send(now=0.0)[0][0]


def templates(rng: random.Random) -> list[tuple[int, bytes]]:
    """(weight, frame) pairs."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    out: list[tuple[int, bytes]] = []
    names = ["www.instagram.com", "www.tiktok.com", "example.org", "www.youtube.com", "snapchat.com"]
    for i in range(200):
        client = f"10.1.{i // 250}.{i % 250 + 1}"
        server = f"198.51.100.{i % 250 + 1}"
        sport = 40000 + i
        out.append((300, bytes(eth / IP(src=server, dst=client) / TCP(sport=443, dport=sport, flags="A")
                               / Raw(b"\x17\x03\x03" + bytes(rng.randrange(256) for _ in range(1200))))))
        out.append((100, bytes(eth / IP(src=client, dst=server) / TCP(sport=sport, dport=443, flags="PA")
                               / Raw(b"\x17\x03\x03\x00\x40" + bytes(64)))))
        out.append((100, bytes(eth / IP(src=client, dst=server) / TCP(sport=sport, dport=443, flags="A"))))
        out.append((100, bytes(eth / IP(src=client, dst=server) / TCP(sport=sport, dport=8080, flags="PA")
                               / Raw(bytes(300)))))
        out.append((80, bytes(eth / IP(src=client, dst="192.0.2.9") / UDP(sport=sport, dport=5353) / Raw(bytes(80)))))
        out.append((40, bytes(eth / IPv6(src="fd00::2", dst="fd00::1") / TCP(sport=sport, dport=22) / Raw(bytes(100)))))
        out.append((20, bytes(eth / ARP(psrc=client, pdst=server))))
        out.append((10, bytes(eth / IP(src=client, dst="192.0.2.53") / UDP(sport=sport, dport=53)
                              / DNS(rd=1, qd=DNSQR(qname=rng.choice(names))))))
        out.append((5, bytes(eth / IP(src=client, dst=server) / TCP(sport=sport + 1000, dport=443, flags="PA", seq=1)
                             / Raw(client_hello(rng.choice(names))))))
        out.append((2, bytes(eth / IP(src=client, dst=server) / TCP(sport=sport + 2000, dport=80, flags="PA", seq=1)
                             / Raw(f"GET / HTTP/1.1\r\nHost: {rng.choice(names)}\r\n\r\n".encode()))))
        if i < 100:
            out.append((2, bytes(eth / IP(src=client, dst=server) / UDP(sport=sport + 3000, dport=443)
                                 / Raw(quic_initial(rng.choice(names), rng)))))
    return out


def build(path: pathlib.Path, packets: int) -> None:
    rng = random.Random(7)
    table = templates(rng)
    frames = [frame for _, frame in table]
    weights = [weight for weight, _ in table]
    order = rng.choices(range(len(frames)), weights=weights, k=packets)
    start = 1_700_000_000
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        record = struct.Struct("<IIII")
        for n, index in enumerate(order):
            frame = frames[index]
            t = start + n * 100  # 10,000 packets per second, in microseconds
            f.write(record.pack(t // 1_000_000, t % 1_000_000, len(frame), len(frame)))
            f.write(frame)


def run_sensor(path: pathlib.Path) -> tuple[int, float, Sensor]:
    sensor = Sensor(Metrics(CollectorRegistry()), Catalog.load(), on_observation=lambda o, p: None)
    begin = time.perf_counter()
    for frame in read_file(str(path)):
        sensor.packet(*frame)
    sensor.close()
    return sensor.packets, time.perf_counter() - begin, sensor


def run_scapy(path: pathlib.Path, sample: int) -> tuple[int, float]:
    begin = time.perf_counter()
    packets = rdpcap(str(path), count=sample)
    for packet in packets:
        packet.layers()  # dissection happens in rdpcap; touch the result so nothing is skipped lazily
    return len(packets), time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=SCAPY_SAMPLE, help="packets scapy dissects")
    args = parser.parse_args()
    path = pathlib.Path(tempfile.gettempdir()) / f"socialwatch-sensor-bench-v1-{args.packets}.pcap"
    if not path.exists():
        print(f"building {path} ({args.packets:,} packets) ...", flush=True)
        partial = path.with_suffix(".partial")
        build(partial, args.packets)
        os.replace(partial, path)
    print(f"capture: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    count, seconds, sensor = run_sensor(path)
    sensor_rate = count / seconds
    print(f"sensor: {count:,} packets in {seconds:.2f} s = {sensor_rate:,.0f} packets/s")
    print(f"        {sensor.summary()}")
    scapy_count, scapy_seconds = run_scapy(path, args.sample)
    scapy_rate = scapy_count / scapy_seconds
    print(f"scapy rdpcap + full dissection: {scapy_count:,} packets (a sample of the same file) in "
          f"{scapy_seconds:.2f} s = {scapy_rate:,.0f} packets/s "
          f"(extrapolated: {count / scapy_rate:.0f} s for the whole file)")
    print(f"ratio sensor / scapy: {sensor_rate / scapy_rate:.1f}x (goal >= 10x)")


if __name__ == "__main__":
    main()
