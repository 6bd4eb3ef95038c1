"""Captures built with scapy from real clients' bytes: platform cases, hostile input, bounds."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry
from scapy.all import IP, TCP, IPv6, Raw, wrpcapng
from socialwatch.dashboards.metrics import Metrics
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.sensor import Sensor
from socialwatch.proxy_addons.sensor.capture import read_file
from socialwatch.proxy_addons.sensor.sensor import Limits
from support.sensor_packets import (
    CLIENT,
    ETHER,
    QUIC_V1,
    QUIC_V2,
    SERVER,
    client_hello,
    crypto_frame,
    dns_query,
    handshake_of,
    quic_initial,
    quic_initials,
    tcp_segments,
    udp,
    write,
)

from socialwatch.cli import main


def sensor_for(packets, tmp_path, limits: Limits | None = None) -> tuple[Sensor, list, Metrics]:
    path = write(tmp_path / "built.pcap", packets)
    seen = []
    metrics = Metrics(CollectorRegistry())
    sensor = Sensor(metrics, Catalog.load(), limits=limits or Limits(), on_observation=lambda o, p: seen.append((o, p)))
    for frame in read_file(str(path)):
        sensor.packet(*frame)
    sensor.close()
    return sensor, seen, metrics


def names(seen) -> list[tuple[str, str, str | None]]:
    return [(o.proto, o.name, p) for o, p in seen]


def run_cli(capsys, *argv) -> list[dict]:
    assert main(["sensor", *argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("version", [QUIC_V1, QUIC_V2], ids=["v1", "v2"])
def test_a_quic_initial_to_instagram(tmp_path, capsys, version):
    packets = [udp(d, 443) for d in quic_initials("www.instagram.com", version)]
    lines = run_cli(capsys, "--read", str(write(tmp_path / "quic.pcap", packets)))
    assert [(l["proto"], l["name"], l["platform"], l["client"], l["server"], l["port"]) for l in lines] == [
        ("quic", "www.instagram.com", "instagram", CLIENT, SERVER, 443)]


def test_a_dns_query_for_tiktok_over_udp_and_tcp(tmp_path, capsys):
    query = bytes(dns_query("www.TikTok.com")["DNS"])
    over_tcp = len(query).to_bytes(2, "big") + query
    packets = [dns_query("www.TikTok.com"), *tcp_segments(over_tcp, 53, [1, 9])]
    lines = run_cli(capsys, "--read", str(write(tmp_path / "dns.pcap", packets)))
    assert [(l["proto"], l["name"], l["platform"], l["port"]) for l in lines] == [
        ("dns", "www.tiktok.com", "tiktok", 53)] * 2


def test_a_clienthello_split_over_three_segments(tmp_path):
    hello = client_hello("www.instagram.com")
    _, seen, _ = sensor_for(tcp_segments(hello, 443, [100, 250]), tmp_path)
    assert names(seen) == [("tls", "www.instagram.com", "instagram")]


def test_segments_out_of_order_and_retransmitted(tmp_path):
    hello = client_hello("www.tiktok.com")
    syn, first, second, third = tcp_segments(hello, 443, [100, 250])
    _, seen, _ = sensor_for([syn, third, first, first, second, third], tmp_path)
    assert names(seen) == [("tls", "www.tiktok.com", "tiktok")]


def test_a_clienthello_over_several_records(tmp_path):
    handshake = handshake_of(client_hello("www.instagram.com"))
    records = b"".join(b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part
                       for part in (handshake[:40], handshake[40:300], handshake[300:]))
    _, seen, _ = sensor_for(tcp_segments(records, 443, [3, 200]), tmp_path)
    assert names(seen) == [("tls", "www.instagram.com", "instagram")]


def test_quic_crypto_frames_out_of_order_across_two_initials(tmp_path):
    hello = handshake_of(client_hello("www.instagram.com"))
    first = quic_initial(crypto_frame(300, hello[300:]) + crypto_frame(0, hello[:100]))
    second = quic_initial(crypto_frame(100, hello[100:300]), packet_number=1)
    sensor, seen, _ = sensor_for([udp(first, 443), udp(second, 443)], tmp_path)
    assert names(seen) == [("quic", "www.instagram.com", "instagram")]
    assert sensor.errors == {}


def test_http_host_on_port_80_and_ipv6(tmp_path):
    request = b"GET /feed HTTP/1.1\r\nUser-Agent: x\r\nHOST: WWW.Instagram.com:80\r\n\r\n"
    packets = tcp_segments(request, 80, [20])
    v6 = ETHER / IPv6(src="fd00::5", dst="2001:db8::1") / TCP(sport=41000, dport=80, flags="PA", seq=5) \
        / Raw(b"POST / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n")
    _, seen, _ = sensor_for([*packets, v6], tmp_path)
    assert names(seen) == [("http", "www.instagram.com", "instagram"), ("http", "2001:db8::1", None)]
    assert seen[1][0].client == "fd00::5"


def test_pcapng_is_read_as_well(tmp_path, capsys):
    path = tmp_path / "dns.pcapng"
    wrpcapng(str(path), [dns_query("www.tiktok.com")])
    assert [l["name"] for l in run_cli(capsys, "--read", str(path))] == ["www.tiktok.com"]


def test_uninteresting_traffic_yields_nothing(tmp_path):
    hello = client_hello("www.instagram.com")
    packets = [
        *tcp_segments(hello, 8443, [100]),  # not our port
        ETHER / IP(src=SERVER, dst=CLIENT) / TCP(sport=443, dport=40000, flags="PA") / Raw(hello),  # server side
        ETHER / IP(src=CLIENT, dst=SERVER) / TCP(sport=40001, dport=443, flags="PA") / Raw(b"\x17\x03\x03\x00\x10" + bytes(16)),
        udp(b"\x40" + bytes(40), 443),  # QUIC short header
    ]
    sensor, seen, _ = sensor_for(packets, tmp_path)
    assert seen == [] and sensor.errors == {} and sensor.packets == len(packets)


def _tls_with(body_edit) -> bytes:
    handshake = bytearray(handshake_of(client_hello("www.instagram.com")))
    body_edit(handshake)
    return b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + bytes(handshake)


def _huge_handshake(h: bytearray) -> None:
    h[1:4] = (0xFFFFFF).to_bytes(3, "big")


def _extensions_overrun(h: bytearray) -> None:
    p = 4 + 2 + 32
    p += 1 + h[p]
    p += 2 + int.from_bytes(h[p:p + 2], "big")
    p += 1 + h[p]
    h[p:p + 2] = (0xFFF0).to_bytes(2, "big")


def _dns(body: bytes) -> bytes:
    return bytes.fromhex("abcd01000001000000000000") + body


@pytest.mark.parametrize("packets, kind", [
    ([udp(_dns(b"\xc0\x0c\x00\x01\x00\x01"), 53)], "dns_compression_loop"),  # a pointer to itself
    ([udp(_dns(b"\x03www\x3finstagram"), 53)], "dns_malformed"),  # a label longer than the message
    ([udp(bytes.fromhex("abcd0100ffff00000000000000"), 53)], "dns_malformed"),  # 65535 questions
    ([udp(b"\xab\xcd", 53)], "dns_malformed"),  # truncated header
    (tcp_segments(_tls_with(_huge_handshake), 443, []), "tls_too_large"),
    (tcp_segments(_tls_with(_extensions_overrun), 443, []), "tls_malformed"),
    (tcp_segments(b"\x16\x03\x01\xff\xff" + bytes(10), 443, []), "tls_malformed"),  # absurd record length
    ([udp(quic_initial(crypto_frame(1_000_000, b"\x01\x00\x00\x10")), 443)], "quic_crypto_bounds"),
    ([udp(quic_initial(b"\x06\x00\x7f\xff" + b"\x01\x00"), 443)], "quic_malformed"),  # CRYPTO longer than packet
    ([udp(quic_initial(b"\x08\x00"), 443)], "quic_malformed"),  # a STREAM frame: not allowed in an Initial
    ([udp(quic_initial(b"\x01")[:60] + bytes(1140), 443)], "quic_decrypt"),  # corrupted ciphertext
    ([udp(quic_initial(b"\x01")[:30], 443)], "quic_malformed"),  # truncated
    ([udp(b"\xc0\x00\x00\x00\x01\xff" + bytes(40), 443)], "quic_malformed"),  # connection ID of 255 bytes
    (tcp_segments(b"GET / HTTP/1.1\r\nHost: bad host!\r\n\r\n", 80, []), "http_malformed"),
    (tcp_segments(b"GET / HTTP/1.1\r\nX: " + b"a" * 9000, 80, [4000]), "http_too_large"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_hostile_input_is_counted_by_kind_and_never_raises(tmp_path, packets, kind):
    sensor, seen, metrics = sensor_for(packets, tmp_path)
    assert seen == []
    assert sensor.errors == {kind: 1}
    assert metrics.registry.get_sample_value("socialwatch_sensor_parse_errors_total", {"kind": kind}) == 1


def test_a_truncated_clienthello_is_waited_for_and_then_dropped_with_the_stream(tmp_path):
    hello = client_hello("www.instagram.com")
    syn, first, _second = tcp_segments(hello, 443, [200])
    fin = ETHER / IP(src=CLIENT, dst=SERVER) / TCP(sport=40000, dport=443, flags="FA", seq=1000 + 1 + 200)
    sensor, seen, _ = sensor_for([syn, first, fin], tmp_path)
    assert seen == [] and sensor.errors == {}


@pytest.mark.parametrize("limits, packets, bound", [
    (Limits(tcp_streams=2),
     [seg for port in (40001, 40002, 40003) for seg in tcp_segments(client_hello("a.example"), 443, [50], sport=port)[:2]],
     "tcp_streams"),
    (Limits(tcp_bytes=300), tcp_segments(client_hello("www.instagram.com"), 443, [200]), "tcp_bytes"),
    (Limits(quic_connections=1),
     [udp(quic_initial(crypto_frame(0, b"\x01\x00\x01\x00")), 443, sport=p) for p in (1, 2)], "quic_connections"),
])
def test_every_bound_is_counted_when_hit(tmp_path, limits, packets, bound):
    _, _, metrics = sensor_for(packets, tmp_path, limits)
    assert metrics.registry.get_sample_value("socialwatch_sensor_limit_hits_total", {"bound": bound}) >= 1


def test_link_types_vlan_tags_and_ipv6(tmp_path):
    from scapy.all import DNS, DNSQR, UDP, CookedLinux, Dot1Q, wrpcap

    query = UDP(sport=5000, dport=53) / DNS(rd=1, qd=DNSQR(qname="www.tiktok.com"))
    files = {
        "vlan.pcap": (ETHER / Dot1Q(vlan=20) / Dot1Q(vlan=30) / IP(src=CLIENT, dst=SERVER) / query, None),
        "v6.pcap": (ETHER / IPv6(src="fd00::7", dst="fd00::1") / query, None),
        "sll.pcap": (CookedLinux(proto=0x0800) / IP(src=CLIENT, dst=SERVER) / query, 113),
        "raw.pcap": (IP(src=CLIENT, dst=SERVER) / query, 101),
    }
    for name, (packet, linktype) in files.items():
        wrpcap(str(tmp_path / name), [packet], linktype=linktype)
        seen = []
        sensor = Sensor(Metrics(CollectorRegistry()), Catalog.load(), on_observation=lambda o, p: seen.append(o))
        for frame in read_file(str(tmp_path / name)):
            sensor.packet(*frame)
        assert [(o.name, o.client) for o in seen] == [
            ("www.tiktok.com", "fd00::7" if name == "v6.pcap" else CLIENT)], name
