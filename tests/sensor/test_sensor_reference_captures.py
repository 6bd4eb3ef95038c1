"""Real captures (browsers, curl, QUIC implementations): the sensor reads what tshark reads.

The files and expected.tsv are in ../shared/data/pcaps (read-only reference data).
"""

from __future__ import annotations

import csv
import pathlib

import pytest
from prometheus_client import CollectorRegistry
from socialwatch.dashboards.metrics import Metrics
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.sensor import Sensor
from socialwatch.proxy_addons.sensor.capture import read_file

PCAPS = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "pcaps"
EXPECTED = list(csv.DictReader((PCAPS / "expected.tsv").open(), delimiter="\t"))


def read(path: pathlib.Path) -> tuple[Sensor, list]:
    seen = []
    sensor = Sensor(Metrics(CollectorRegistry()), Catalog.load(), on_observation=lambda o, p: seen.append(o))
    for frame in read_file(str(path)):
        sensor.packet(*frame)
    sensor.close()
    return sensor, seen


def test_every_reference_capture_is_listed():
    assert {row["file"] for row in EXPECTED} == {p.name for p in PCAPS.glob("*.pcap")}


@pytest.mark.parametrize("row", [r for r in EXPECTED if r["proto"] != "bad"], ids=lambda r: r["file"])
def test_the_sensor_reads_the_names_the_reference_dissector_reads(row):
    sensor, seen = read(PCAPS / row["file"])
    expected = {name for name in row["names"].split(",") if name}
    assert {o.name for o in seen if o.proto == row["proto"]} == expected
    assert {o.proto for o in seen} == {row["proto"]}
    assert sensor.errors == {}
    assert all(o.port in (53, 443) and o.client and o.server and o.ts > 1e9 for o in seen)


@pytest.mark.parametrize("file, kind", [
    ("max-compression-depth.pcap", "dns_not_a_query"),  # a response with deep compression sent to port 53
    ("vector-max-size-crash.pcap", "quic_unknown_version"),  # a long header of version 0x10010000
])
def test_bad_captures_are_read_to_the_end_and_their_errors_counted(file, kind):
    metrics = Metrics(CollectorRegistry())
    sensor = Sensor(metrics, Catalog.load())
    frames = list(read_file(str(PCAPS / file)))
    for frame in frames:
        sensor.packet(*frame)
    sensor.close()
    assert sensor.packets == len(frames) > 0
    assert sensor.errors == {kind: 1}
    assert metrics.registry.get_sample_value("socialwatch_sensor_parse_errors_total", {"kind": kind}) == 1
    assert metrics.registry.get_sample_value("socialwatch_sensor_packets_total") == len(frames)


def test_a_clienthello_over_several_segments_is_reassembled():
    # chrome-1250: a post-quantum key share makes the ClientHello larger than one segment.
    _, seen = read(PCAPS / "chrome-1250-tls-x25519-kyber.pcap")
    hello = [o for o in seen if o.proto == "tls"]
    assert [o.name for o in hello] == ["lh3.google.com"] and hello[0].size > 1460


def test_quic_v2_and_fragmented_crypto_frames():
    _, v2 = read(PCAPS / "quicv2-echo-443.pcap")
    assert {o.name for o in v2} == {"localhost"}
    _, fragmented = read(PCAPS / "quic-multiple-initial-fragmented-crypto.pcap")
    assert [o.name for o in fragmented] == ["googleads.g.doubleclick.net"]


def test_the_cli_prints_one_json_line_per_observation(capsys):
    import json

    from socialwatch.cli import main

    assert main(["sensor", "--read", str(PCAPS / "dns_original_case.pcap"),
                 str(PCAPS / "curl-8.1.2-dev-http3-www-google-de.pcap")]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(l["proto"], l["name"], l["port"], l["platform"]) for l in lines] == [
        ("dns", "us.v27.distributed.net", 53, None), ("quic", "www.google.de", 443, None)]
    assert set(lines[0]) == {"ts", "proto", "client", "server", "port", "name", "platform"}
    assert lines[0]["ts"].endswith("Z")
    assert "packets" in err and "dns 1" in err and "quic 1" in err


@pytest.mark.parametrize("argv, message", [
    (["--read", "/nonexistent/capture.pcap"], "No such file"),
    (["--read", str(PCAPS / "expected.tsv")], "Not a supported capture file"),
])
def test_an_unreadable_capture_is_one_clear_line_and_status_1(capsys, argv, message):
    from socialwatch.cli import main

    assert main(["sensor", *argv]) == 1
    assert message in capsys.readouterr().err
